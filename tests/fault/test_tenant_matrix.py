"""Fault matrix, tenants: every operation with an id in its path is called as the owner of a fresh resource and as
everyone who must not reach it, as ``tests/fault/tenant/world.py`` describes (anonymous → 401, another resident,
another vendor or staff of another community → 404, a delegate without the scope or a role below the action → 403,
never any data), generated from the OpenAPI document so an endpoint added later fails until it has a factory.
"""

from __future__ import annotations

import importlib
import re
from urllib.parse import urlencode

import pytest

from tests.community.fixtures import tree  # noqa: F401  (fixture)
from tests.fault.tenant.world import EXEMPT, FACTORIES, METHODS, OUTSIDERS, PUBLIC_BY_DESIGN, Case, World
from tests.fuzz.common import AREAS

#: Domain modules of tests/fault/tenant and the path prefixes each covers (one test per module, spread by xdist):
#: the fuzz tests' areas, with notices and neighbours apart.
DOMAINS = {
    **{area: prefixes for area, prefixes in AREAS.items() if area != "notices"},
    "neighbours": ("/api/v1/neighbours",),
    "notices": ("/api/v1/notices",),
}

#: Path segments that name a person's data: an operation under one of them may not be public.
PERSONAL = re.compile(
    r"/(residents|households|memberships|delegations|orders|applications|complaints|payments|bills|elders|visits|"
    r"bookings|appointments|inbox|claims|refunds|aftersales|documents|me)(/|$)"
)

ERROR_KEYS = {"code", "message", "details"}


def _modules() -> None:
    for name in DOMAINS:
        try:
            importlib.import_module(f"tests.fault.tenant.{name}")
        except ModuleNotFoundError as error:
            if error.name != f"tests.fault.tenant.{name}":
                raise


def _operations(client):
    spec = client.get("/openapi.json").json
    for path, item in spec["paths"].items():
        for method in METHODS:
            if method in item and "{" in path:
                yield method, path, item[method]


def _domain(path: str) -> str | None:
    return next((name for name, prefixes in DOMAINS.items() if path.startswith(prefixes)), None)


def _url(path: str, case: Case) -> str:
    missing = set(re.findall(r"{([^}]+)}", path)) - set(case.params)
    assert not missing, f"the factory of {path} gave no {sorted(missing)}"
    url = re.sub(r"{([^}]+)}", lambda m: str(case.params[m.group(1)]), path)
    return f"{url}?{urlencode(case.query, doseq=True)}" if case.query else url


def _expect(problems, who, method, path, response, statuses) -> None:
    body = response.get_json(silent=True)
    if response.status_code not in statuses:
        problems.append(f"{method.upper()} {path} as {who}: {response.status_code} {body!r:.200}, expected {statuses}")
    elif response.status_code >= 400 and not (isinstance(body, dict) and set(body) <= ERROR_KEYS):
        problems.append(f"{method.upper()} {path} as {who}: an error that carries data: {body!r:.200}")
    response.close()  # a streamed body (a file, a CSV export) is not left open


def check(world: World, method: str, path: str, operation: dict) -> list[str]:
    problems: list[str] = []
    case = FACTORIES[path][method](world, method)
    url = _url(path, case)
    rule = operation["x-access"]

    def kwargs(who: str) -> dict:
        if method not in ("post", "put", "patch"):
            return {}
        body = case.bodies.get(who, case.body)
        return {"json": body if body is not None else {}}

    if not rule["public"]:
        _expect(problems, "anonymous", method, path, world.call(None, method, url, **kwargs("anonymous")), {401})
        for who in (*OUTSIDERS, *case.outsiders):
            if who not in case.visible_to and who not in case.forbidden:
                response = world.call(world.user(who, case), method, url, **kwargs(who))
                _expect(problems, who, method, path, response, {404})
        for who in case.forbidden:
            response = world.call(world.user(who, case), method, url, **kwargs(who))
            _expect(problems, who, method, path, response, {403})
        if method == "get":  # a legitimate reader reads (a write by them would change what the owner acts on)
            for who in case.visible_to:
                if who not in case.forbidden:
                    response = world.call(world.user(who, case), method, url)
                    _expect(problems, who, method, path, response, set(range(200, 300)))

    owner = case.owner if isinstance(case.owner, str) else "owner"
    response = world.call(world.user(case.owner, case), method, url, **kwargs(owner))
    if case.owner_status is None:
        expected = set(range(200, 300))
    elif isinstance(case.owner_status, int):
        expected = {case.owner_status}
    else:
        expected = set(case.owner_status)
    _expect(problems, "the owner", method, path, response, expected)
    return problems


@pytest.fixture
def world(db, tree, make_user, make_resident, join, make_staff, client, auth_header, run_jobs):  # noqa: F811
    return World(
        tree=tree,
        make_user=make_user,
        make_resident=make_resident,
        join=join,
        make_staff=make_staff,
        client=client,
        auth_header=auth_header,
        run_jobs=run_jobs,
    )


def test_every_operation_with_an_id_has_a_factory_and_no_personal_path_is_public(client):
    _modules()
    missing, public, unknown = [], [], []
    for method, path, operation in _operations(client):
        if _domain(path) is None:
            unknown.append(path)
        covered = method in FACTORIES.get(path, {}) or (method, path) in EXEMPT
        if not covered:
            missing.append(f"{method.upper()} {path}")
        if operation["x-access"]["public"] and PERSONAL.search(path) and (method, path) not in PUBLIC_BY_DESIGN:
            public.append(f"{method.upper()} {path}")
    stale = [f"{m.upper()} {p}" for p, methods in FACTORIES.items() for m in methods if p not in _paths(client, m)]
    assert not unknown, f"paths outside every domain of the matrix: {sorted(set(unknown))}"
    assert not public, f"public operations on a person's data: {public}"
    assert not stale, f"factories for operations the document no longer has: {stale}"
    assert not missing, f"{len(missing)} operations with an id have no factory:\n" + "\n".join(sorted(missing))


def _paths(client, method: str) -> set[str]:
    spec = client.get("/openapi.json").json
    return {path for path, item in spec["paths"].items() if method in item}


@pytest.mark.parametrize("domain", sorted(DOMAINS))
def test_every_operation_refuses_everyone_but_its_owner(world, client, domain):
    _modules()
    problems, checked = [], 0
    for method, path, operation in _operations(client):
        if _domain(path) != domain or method not in FACTORIES.get(path, {}):
            continue
        checked += 1
        try:
            problems.extend(check(world, method, path, operation))
        except Exception as error:  # a factory that fails is a finding too, reported with the rest
            problems.append(f"{method.upper()} {path}: the factory or a call failed: {error!r:.300}")
    if checked == 0:
        pytest.skip(f"no factories for {domain} yet")
    assert not problems, f"{len(problems)} of {checked} operations in {domain}:\n" + "\n".join(problems)
