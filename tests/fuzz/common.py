"""schemathesis against our own /openapi.json, in-process, with a fixed seed and a bounded number of examples.

The check is the one a user feels most: no request, however malformed, gets a 5xx. Wider runs: ``make fuzz``
(FUZZ_EXAMPLES=500). schemathesis' lazy pytest fixture does not run on pytest 9 (it reads a removed private
attribute), so the operations are walked here with hypothesis directly.
"""

import os

import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import seed as fixed_seed
from schemathesis.checks import not_a_server_error

from app.auth import issue_access_token

MAX_EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "25"))


def test_no_request_gets_a_server_error(app, db, make_user):
    admin = make_user("模糊测试管理员", platform_roles=("admin",))
    admin_headers = {"Authorization": f"Bearer {issue_access_token(admin)}"}
    schema = schemathesis.openapi.from_wsgi("/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert operations, "the spec lists no operations"

    for operation in operations:

        @fixed_seed(20261123)
        @settings(max_examples=MAX_EXAMPLES, deadline=None, database=None, suppress_health_check=list(HealthCheck))
        @given(case=operation.as_strategy())
        def run(case):
            for headers in (admin_headers, None):  # signed in as an admin, and anonymous
                response = case.call(headers=headers)
                case.validate_response(response, checks=(not_a_server_error,))

        run()
