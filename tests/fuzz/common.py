"""schemathesis against our own /openapi.json, in-process, with a fixed seed and a bounded number of examples.

The check is the one a user feels most: no request, however malformed, gets a 5xx. The document is split by path
prefix into one test file per area (``tests/fuzz/test_*.py``) so xdist spreads them over workers and each stays
well inside the per-test timeout. Wider runs: ``make fuzz`` (FUZZ_EXAMPLES=500). schemathesis' lazy pytest fixture
does not run on pytest 9 (it reads a removed private attribute), so the operations are walked with hypothesis.
"""

import os

import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import seed as fixed_seed
from schemathesis.checks import not_a_server_error

from app.auth import issue_access_token

MAX_EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "25"))

#: Path prefixes of each area; every operation of the document falls in exactly one (test_every_path_is_fuzzed).
AREAS = {
    "core": (
        "/healthz",
        "/api/v1/auth",
        "/api/v1/me",
        "/api/v1/admin",
        "/api/v1/files",
        "/api/v1/calendar",
        "/api/v1/push",
        "/api/v1/community",
        "/api/v1/accounts",
        "/api/v1/residents",
        "/api/v1/households",
        "/api/v1/delegations",
        "/api/v1/tags",
    ),
    "govservice": ("/api/v1/govservice", "/open311"),
    "marketplace": ("/api/v1/marketplace",),
    "eldercare": ("/api/v1/eldercare",),
    "notices": ("/api/v1/notices", "/api/v1/neighbours"),
    "payments": ("/api/v1/payments", "/api/v1/fees"),
}


def area_of(path: str) -> str | None:
    for area, prefixes in AREAS.items():
        if path.startswith(prefixes):
            return area
    return None


def fuzz_area(app, make_user, area: str) -> int:
    admin = make_user("模糊测试管理员", platform_roles=("admin",))
    admin_headers = {"Authorization": f"Bearer {issue_access_token(admin)}"}
    schema = schemathesis.openapi.from_wsgi("/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    operations = [op for op in operations if area_of(op.path) == area]
    assert operations, f"the spec lists no operations for {area}"

    for operation in operations:

        @fixed_seed(20261123)
        @settings(max_examples=MAX_EXAMPLES, deadline=None, database=None, suppress_health_check=list(HealthCheck))
        @given(case=operation.as_strategy())
        def run(case):
            for headers in (admin_headers, None):  # signed in as an admin, and anonymous
                response = case.call(headers=headers)
                case.validate_response(response, checks=(not_a_server_error,))

        run()
    return len(operations)
