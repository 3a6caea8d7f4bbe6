"""Fault matrix, statements: no list endpoint is N+1. Every list in the OpenAPI document (a GET whose path does not
end in a parameter and whose answer is a JSON array or a page of ``items``) is called, as a caller who may see its
rows, with a small page (2) and a large one (20), then again after its rows have doubled: the number of SQL
statements must be the same each time. The data is ``tests/fault/statement_data.py``'s world; a list added later
fails ``test_every_list_has_a_case_or_a_reason`` until it has a case there or a line in ``NOT_ARRANGED`` below.
"""

from __future__ import annotations

import re
from urllib.parse import urlencode

import pytest
import sqlalchemy as sa

from app.accounts.models import User
from app.extensions import db as database
from tests.fault.statement_data import CASES, Call, World

#: Domains (one test each, so xdist spreads them) and the path prefixes each covers.
DOMAINS = {
    "core": ("/api/v1/auth", "/api/v1/me", "/api/v1/admin", "/api/v1/calendar", "/api/v1/push", "/healthz"),
    "community": ("/api/v1/community", "/api/v1/residents", "/api/v1/tags"),
    "govservice": ("/api/v1/govservice", "/open311"),
    "marketplace": ("/api/v1/marketplace",),
    "eldercare": ("/api/v1/eldercare",),
    "neighbours": ("/api/v1/neighbours",),
    "notices": ("/api/v1/notices",),
    "payments": ("/api/v1/payments", "/api/v1/fees"),
}

#: Lists the world has no rows for yet, each with the reason; the test fails for any other list with fewer than
#: three rows on its large page. Keep this short: each line is a list whose N+1 would go unseen.
NOT_ARRANGED: dict[str, str] = {}

SMALL, LARGE = 2, 20


def lists(client) -> dict[str, str | None]:
    """path → its page-size parameter (``limit``, ``page_size`` or None) for every list in the document."""
    spec = client.get("/openapi.json").json
    schemas = spec["components"]["schemas"]
    found: dict[str, str | None] = {}
    for path, item in spec["paths"].items():
        operation = item.get("get")
        if operation is None or path.rsplit("/", 1)[-1].startswith("{"):
            continue  # one thing by its id (``/orders/{id}``, ``/requests/{id}.json``), not a list
        content = operation["responses"].get("200", {}).get("content", {})
        schema = content.get("application/json", {}).get("schema")
        if schema is None:
            continue
        if "$ref" in schema:
            schema = schemas[schema["$ref"].rsplit("/", 1)[-1]]
        if schema.get("type") != "array" and "items" not in schema.get("properties", {}):
            continue
        names = {p["name"] for p in operation.get("parameters", []) if p.get("in") == "query"}
        found[path] = next((name for name in ("limit", "page_size") if name in names), None)
    return found


def domain_of(path: str) -> str | None:
    return next((name for name, prefixes in DOMAINS.items() if path.startswith(prefixes)), None)


def test_every_list_has_a_case_or_a_reason(client):
    found = lists(client)
    outside = sorted(path for path in found if domain_of(path) is None)
    missing = sorted(path for path in found if path not in CASES and path not in NOT_ARRANGED)
    stale = sorted(path for path in (*CASES, *NOT_ARRANGED) if path not in found)
    both = sorted(path for path in NOT_ARRANGED if path in CASES)
    assert not outside, f"lists outside every domain of this test: {outside}"
    assert not stale, f"cases or reasons for lists the document no longer has: {stale}"
    assert not both, f"lists with a case that are still in NOT_ARRANGED: {both}"
    assert not missing, f"{len(missing)} lists have no case in statement_data.py:\n" + "\n".join(missing)


def _items(body) -> list:
    return body["items"] if isinstance(body, dict) else body


def measure(
    client, count_queries, redis, headers: dict, url: str, paging: str | None, size: int
) -> tuple[int, int, list]:
    """(statements, rows on the page, the statements) of one call with a clean identity map, as a new request has,
    and an empty Redis, so that a cached answer (the marketplace catalogue's) does not hide the queries behind it."""
    query = {paging: size} if paging else {}
    separator = "&" if "?" in url else "?"
    target = f"{url}{separator}{urlencode(query)}" if query else url
    database.session.expunge_all()
    redis.flushdb()
    with count_queries() as statements:
        response = client.get(target, headers=headers)
    assert response.status_code == 200, f"GET {target}: {response.status_code} {response.get_data(as_text=True):.300}"
    return len(statements), len(_items(response.get_json())), statements


def check(world: World, client, count_queries, redis, auth_header, path: str, paging: str | None) -> list[str]:
    call: Call = CASES[path](world)
    database.session.flush()
    missing = set(re.findall(r"{([^}]+)}", path)) - set(call.params)
    assert not missing, f"the case of {path} gave no {sorted(missing)}"
    url = re.sub(r"{([^}]+)}", lambda m: str(call.params[m.group(1)]), path)
    if call.query:
        url = f"{url}?{urlencode(call.query, doseq=True)}"
    # The world's accounts are detached by measure(): the caller is read again.
    user = database.session.get(User, sa.inspect(call.user).identity[0]) if call.user is not None else None
    headers = auth_header(user) if user is not None else {}
    measure(client, count_queries, redis, headers, url, paging, LARGE)  # warm what a first request fills
    problems = []
    small, small_rows, small_sql = measure(client, count_queries, redis, headers, url, paging, SMALL)
    large, large_rows, large_sql = measure(client, count_queries, redis, headers, url, paging, LARGE)
    if path not in NOT_ARRANGED and large_rows < 3:
        problems.append(f"{path}: only {large_rows} rows on the large page, arrange more (or list it in NOT_ARRANGED)")
    if paging and small_rows > SMALL:
        problems.append(f"{path}: {small_rows} rows on a page of {SMALL}")
    if small != large:
        problems.append(
            f"{path}: {small} statements for {small_rows} rows, {large} for {large_rows}" + _diff(small_sql, large_sql)
        )
    if call.grow is not None:
        call.grow()
        database.session.flush()
        grown, grown_rows, grown_sql = measure(client, count_queries, redis, headers, url, paging, LARGE)
        if grown != large:
            problems.append(
                f"{path}: {large} statements for {large_rows} rows, {grown} after the data grew ({grown_rows} rows)"
                + _diff(large_sql, grown_sql)
            )
    return problems


def _diff(fewer: list[str], more: list[str]) -> str:
    extra = list(more)
    for statement in fewer:
        if statement in extra:
            extra.remove(statement)
    return "; the extra statements:\n    " + "\n    ".join(s[:300].replace("\n", " ") for s in extra[:5])


@pytest.mark.parametrize("domain", sorted(DOMAINS))
def test_statements_do_not_grow_with_the_page_or_the_data(db, redis, client, count_queries, auth_header, domain):
    found = {path: paging for path, paging in lists(client).items() if domain_of(path) == domain and path in CASES}
    if not found:
        pytest.skip(f"no lists with cases in {domain}")
    world = World()
    problems = []
    for path, paging in found.items():
        try:
            problems.extend(check(world, client, count_queries, redis, auth_header, path, paging))
        except Exception as error:  # a case that fails is a finding too, reported with the rest
            database.session.rollback()  # to the last commit, so the next case finds a working transaction
            problems.append(f"{path}: the case or a call failed: {error!r:.400}")
    assert not problems, f"{len(problems)} of {len(found)} lists in {domain}:\n" + "\n".join(problems)
