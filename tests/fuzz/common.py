"""schemathesis against our own /openapi.json, in-process, with a fixed seed and a bounded number of examples.

Each example is sent as a platform admin and as one more caller drawn by hypothesis: a verified resident of a
community with a household, that community's staff, a vendor's owner, or anonymous, so resident and vendor code
paths are reached and not only the admin's. The checks: no request, however malformed, gets a 5xx; every answer
has a status code, a content type and a body the document declares for the operation. The document is split by path
prefix into one test file per area (``tests/fuzz/test_*.py``) so xdist spreads them over workers and each stays
well inside the per-test timeout. Wider runs: ``make fuzz`` (FUZZ_EXAMPLES=500). schemathesis' lazy pytest fixture
does not run on pytest 9 (it reads a removed private attribute), so the operations are walked with hypothesis.
"""

import os
from types import SimpleNamespace

import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import seed as fixed_seed
from hypothesis import strategies as st
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

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


CHECKS = (not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance)
ROLES = ("admin", "resident", "staff", "vendor", "anonymous")


def cast(make_user) -> SimpleNamespace:
    """The callers: ``headers[role]`` is a bearer header per role (anonymous: none) for an admin, a verified resident
    of community A with a household, A's staff and the owner of a vendor serving A; ``tree`` is the community tree."""
    from datetime import date

    from app.accounts.demo import fake_id_number
    from app.accounts.documents import DocumentType
    from app.accounts.resident_models import (
        HouseholdMembership,
        MembershipRole,
        MembershipStatus,
        Resident,
        VerificationStatus,
    )
    from app.accounts.residents import _set_document
    from app.auth.models import RoleAssignment
    from app.db import atomic, utcnow
    from app.extensions import db
    from tests.community.fixtures import build_tree
    from tests.marketplace.fixtures import add_product, add_vendor

    tree = build_tree()
    admin = make_user("模糊测试管理员", platform_roles=("admin",))
    resident_user = make_user("模糊测试居民")
    staff = make_user("模糊测试工作人员")
    vendor_owner = make_user("模糊测试商家")
    with atomic():
        resident = Resident(real_name="模糊测试居民", user_id=resident_user.id, registered_community_id=tree.a.id)
        _set_document(resident, DocumentType.resident_id_card, fake_id_number(date(1950, 1, 1), "981"), None)
        resident.verification_status, resident.verified_at = VerificationStatus.verified, utcnow()
        db.session.add(resident)
        db.session.flush()
        db.session.add(
            HouseholdMembership(
                household_id=tree.rooms_a["101"].id,
                resident_id=resident.id,
                role=MembershipRole.head,
                status=MembershipStatus.active,
                starts_on=date(2020, 1, 1),
            )
        )
        db.session.add(RoleAssignment(user_id=staff.id, role="staff", scope_kind="community", scope_id=tree.a.id))
    vendor = add_vendor(vendor_owner, [tree.a])
    add_product(vendor)
    users = {"admin": admin, "resident": resident_user, "staff": staff, "vendor": vendor_owner}
    with atomic():
        headers = {role: {"Authorization": f"Bearer {issue_access_token(user)}"} for role, user in users.items()}
    return SimpleNamespace(tree=tree, headers=headers, vendor=vendor)


def fuzz_area(app, make_user, area: str) -> int:
    callers = cast(make_user).headers
    schema = schemathesis.openapi.from_wsgi("/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    operations = [op for op in operations if area_of(op.path) == area]
    assert operations, f"the spec lists no operations for {area}"

    for operation in operations:

        @fixed_seed(20261123)
        @settings(max_examples=MAX_EXAMPLES, deadline=None, database=None, suppress_health_check=list(HealthCheck))
        @given(case=operation.as_strategy(), role=st.sampled_from(ROLES[1:]))
        def run(case, role):
            for caller in ("admin", role):  # the admin reaches the most code; a second role is drawn per example
                response = case.call(headers=callers.get(caller))
                case.validate_response(response, checks=CHECKS)

        run()
    return len(operations)
