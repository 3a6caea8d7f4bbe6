"""Stateful fuzzing along the OpenAPI links the document declares (``app.api.links``).

A link says "the ``id`` of this answer fills ``post_id`` there". For every declared link, a seed makes a real
source answer (a post, a comment, a group, a notice draft, a published notice) as the caller who would, then:

- the link leads that caller to the resource: the target, called with the parameter the link names and a plain
  valid body, answers 2xx (a 404 would be a wrong link, or an id the target does not take);
- the target is fuzzed with generated queries and bodies on that real resource (so validation and state rules past
  the "not found" are reached), with the same checks as the rest of tests/fuzz: no 5xx, and status, content type and
  body as documented.

A link added to the document without a seed for its source fails ``test_every_link_source_has_a_seed``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import seed as fixed_seed

from tests.fuzz.common import CHECKS, cast

EXAMPLES = int(os.environ.get("FUZZ_LINK_EXAMPLES", "8"))
N = "/api/v1/neighbours"
NOTICES = "/api/v1/notices"

#: (method, path) of a link's source → (role, how to make a real answer: ``seed(call) -> response``).
Seed = Callable[[Callable], object]


def _post(call):
    return call("resident", "post", f"{N}/posts", {"topic": "pets", "text": "谁家的猫在楼下？"})


def _comment(call):
    post_id = _post(call).get_json()["id"]
    return call("resident", "post", f"{N}/posts/{post_id}/comments", {"text": "我看见了"})


_GROUP_NUMBERS = iter(range(1_000_000))


def _group(call):
    return call("resident", "post", f"{N}/groups", {"name": f"晨跑小组{next(_GROUP_NUMBERS)}"})


def _draft(call):
    body = {"region_id": call.tree.a.public_id, "title": "停水通知", "body": "明日 9:00–17:00 停水。"}
    return call("staff", "post", NOTICES, body)


def _published(call):
    notice_id = _draft(call).get_json()["id"]
    return call("staff", "post", f"{NOTICES}/{notice_id}/publish", {})


SEEDS: dict[tuple[str, str], tuple[str, Seed]] = {
    ("post", f"{N}/posts"): ("resident", _post),
    ("post", f"{N}/posts/{{post_id}}/comments"): ("resident", _comment),
    ("post", f"{N}/groups"): ("resident", _group),
    ("post", NOTICES): ("staff", _draft),
    ("post", f"{NOTICES}/{{notice_id}}/publish"): ("staff", _published),
}

#: A plain valid body for link targets that need one (others get ``{}`` or none).
BODIES: dict[tuple[str, str], dict] = {
    ("post", f"{N}/posts/{{post_id}}/comments"): {"text": "同问"},
    ("post", f"{N}/posts/{{post_id}}/reports"): {"reason": "spam"},
    ("post", f"{N}/comments/{{comment_id}}/reports"): {"reason": "abuse"},
    ("patch", f"{NOTICES}/{{notice_id}}"): {"title": "停水通知（更正）"},
    ("put", f"{NOTICES}/{{notice_id}}/pin"): {"pinned": True},
    ("post", f"{NOTICES}/{{notice_id}}/withdraw"): {"reason": "发错了"},
}


def _links(spec: dict) -> list[dict]:
    found = []
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            for status, response in operation["responses"].items():
                for name, link in response.get("links", {}).items():
                    pointer = link["operationRef"].removeprefix("#/paths/")
                    target_path, target_method = pointer.rsplit("/", 1)
                    target_path = target_path.replace("~1", "/").replace("~0", "~")
                    params = {key.removeprefix("path."): value for key, value in link["parameters"].items()}
                    found.append(
                        {
                            "name": name,
                            "source": (method, path),
                            "status": int(status),
                            "target": (target_method, target_path),
                            "params": params,
                        }
                    )
    return found


def _resolve(expression: str, body: dict) -> str:
    assert expression.startswith("$response.body#/"), expression
    value = body
    for part in expression.removeprefix("$response.body#/").split("/"):
        value = value[part]
    return value


def _fuzz_target(operation, link: dict, role: str, seed: Seed, call, headers: dict) -> None:
    @fixed_seed(20261203)
    @settings(max_examples=EXAMPLES, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(case=operation.as_strategy())
    def run(case):
        body = seed(call).get_json()
        case.path_parameters = {name: _resolve(expr, body) for name, expr in link["params"].items()}
        response = case.call(headers=headers)
        case.validate_response(response, checks=CHECKS)

    run()


class Caller:
    """``call(role, method, url, json)`` through the test client as one of the cast."""

    def __init__(self, client, people) -> None:
        self.client, self.tree, self.headers = client, people.tree, people.headers

    def __call__(self, role: str, method: str, url: str, body: dict | None = None):
        kwargs = {"json": body} if method in ("post", "put", "patch") else {}
        return getattr(self.client, method)(url, headers=self.headers.get(role, {}), **kwargs)


@pytest.fixture
def spec(client) -> dict:
    return client.get("/openapi.json").json


def test_the_document_declares_links_and_every_link_source_has_a_seed(spec):
    links = _links(spec)
    assert len(links) >= 20
    targets = {(m, p) for p, item in spec["paths"].items() for m in item}
    assert [link["name"] for link in links if link["target"] not in targets] == []
    assert sorted({link["source"] for link in links} - set(SEEDS)) == []


def test_every_link_leads_its_creator_to_the_resource(client, db, make_user, spec):
    call = Caller(client, cast(make_user))
    wrong = []
    for link in _links(spec):
        role, seed = SEEDS[link["source"]]
        source = seed(call)
        assert source.status_code == link["status"], (link["name"], source.get_json())
        params = {name: _resolve(expression, source.get_json()) for name, expression in link["params"].items()}
        method, path = link["target"]
        url = path.format(**params)
        answer = call(role, method, url, BODIES.get(link["target"], {}))
        if not 200 <= answer.status_code < 300:
            wrong.append(f"{link['name']}: {method.upper()} {url} → {answer.status_code} {answer.get_json()}")
    assert wrong == []


def test_link_targets_fuzzed_on_real_resources(app, client, db, make_user, spec):
    people = cast(make_user)
    call = Caller(client, people)
    schema = schemathesis.openapi.from_wsgi("/openapi.json", app)
    targets = {}
    for link in _links(spec):
        targets.setdefault(link["target"], link)  # one seed path per target is enough
    for (method, path), link in targets.items():
        role, seed = SEEDS[link["source"]]
        operation = schema[path][method.upper()]

        _fuzz_target(operation, link, role, seed, call, people.headers[role])
    assert len(targets) >= 15, json.dumps(sorted(targets))
