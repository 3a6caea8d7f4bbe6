"""No request to the notices operations, however malformed, gets a 5xx (see ``tests/fuzz/common.py``)."""

from tests.fuzz.common import fuzz_area


def test_no_request_gets_a_server_error(app, db, make_user):
    assert fuzz_area(app, make_user, "notices") > 0
