"""Staff merge two accounts of one person that both hold data: what moves, who may, what is refused, audited."""

from __future__ import annotations

import queue
from datetime import date

import pytest
import sqlalchemy as sa

from app.accounts.documents import DocumentType
from app.accounts.models import User
from app.accounts.resident_models import Resident
from app.accounts.residents import _set_document
from app.audit import AuditEntry
from app.auth import merge
from app.auth.models import LoginMethod, RoleAssignment
from app.auth.passwords import set_password
from app.db import atomic, utcnow
from app.errors import Conflict
from app.extensions import db as database
from tests.auth.conftest import bearer
from tests.community.fixtures import build_tree, id_number
from tests.conftest import race

MERGE = "/api/v1/admin/accounts/merge"
PHONE = "+8613800138000"


@pytest.fixture
def tree(db):
    return build_tree()


@pytest.fixture
def admin(db, make_user):
    return make_user("平台管理员", platform_roles=("admin",))


@pytest.fixture
def community_role(make_user):
    """``community_role(region, role)``: an account holding ``role`` over ``region``."""

    def create(region, role="staff"):
        user = make_user(f"{role}@{region.name}")
        with atomic():
            database.session.add(RoleAssignment(user_id=user.id, role=role, scope_kind="community", scope_id=region.id))
        return user

    return create


def give_resident(user, *, community=None, name="张三", sequence="991", born=date(1990, 3, 7)) -> Resident:
    """Link ``user`` to a resident with a document (as giving one's details or staff linking would)."""
    with atomic():
        resident = Resident(
            real_name=name,
            user_id=user.id if user else None,
            registered_community_id=community.id if community is not None else None,
        )
        _set_document(resident, DocumentType.resident_id_card, id_number(born, sequence), None)
        database.session.add(resident)
        database.session.flush()
    return resident


def post_merge(client, auth_header, actor, keep, fold, reason="本人持身份证到社区核实，两个账号为同一人"):
    return client.post(
        MERGE,
        json={"keep": keep.public_id, "fold": fold.public_id, "reason": reason},
        headers=auth_header(actor),
    )


def fresh(user) -> User:
    return database.session.get(User, user.id, populate_existing=True)


def roles(user) -> set[tuple[str, str, int | None]]:
    rows = database.session.execute(
        sa.select(RoleAssignment.role, RoleAssignment.scope_kind, RoleAssignment.scope_id).where(
            RoleAssignment.user_id == user.id
        )
    )
    return {tuple(row) for row in rows}


def test_accounts_refused_by_phone_linking_are_merged_by_a_platform_admin(
    client, db, tree, admin, make_user, sign_in, sms, auth_header
):
    # A grid worker signs in with WeChat; the same person signed up on the phone app and gave their details there.
    grid = make_user("网格员小周", wechat_openid="openid-zhou")
    with atomic():
        database.session.add(
            RoleAssignment(user_id=grid.id, role="grid_worker", scope_kind="community", scope_id=tree.a.id)
        )
    phone_app = make_user("用户8000", phone=PHONE, phone_verified_at=utcnow())
    resident = give_resident(phone_app, community=tree.a, name="周婷")
    grid_tokens = sign_in(grid, LoginMethod.wechat)
    phone_tokens = sign_in(phone_app, LoginMethod.sms)

    # Binding the phone in the mini-program is refused: both accounts hold data.
    client.post("/api/v1/auth/sms/send", json={"phone": PHONE})
    refused = client.post(
        "/api/v1/auth/sms/bind",
        json={"phone": PHONE, "code": sms.last_code(PHONE)},
        headers=bearer(grid_tokens.access_token),
    )
    assert refused.status_code == 409
    assert refused.json["code"] == "phone_bound_to_other_account"

    response = post_merge(client, auth_header, admin, keep=grid, fold=phone_app)

    assert response.status_code == 200, response.json
    assert response.json == {
        "user": {"id": grid.public_id, "display_name": "网格员小周", "phone": "138****8000"},
        "folded_id": phone_app.public_id,
        "moved": ["phone"],
        "dropped": [],
        "roles_moved": [],
        "resident_id": resident.public_id,
    }
    kept, folded = fresh(grid), fresh(phone_app)
    assert (kept.phone, kept.wechat_openid, kept.phone_verified_at is not None) == (PHONE, "openid-zhou", True)
    assert (folded.is_active, folded.merged_into_id, folded.phone) == (False, grid.id, None)
    assert database.session.get(Resident, resident.id, populate_existing=True).user_id == grid.id
    # The folded account is signed out everywhere; the kept one is not.
    assert client.get("/api/v1/auth/sessions", headers=bearer(phone_tokens.access_token)).status_code == 401
    assert client.get("/api/v1/auth/sessions", headers=bearer(grid_tokens.access_token)).status_code == 200
    # The person now finds one account by either login, with their details.
    me = client.get("/api/v1/me", headers=bearer(grid_tokens.access_token)).json
    assert me["resident"]["id"] == resident.public_id
    database.session.execute(sa.text("UPDATE auth_sms_codes SET sent_at = sent_at - interval '2 minutes'"))
    client.post("/api/v1/auth/sms/send", json={"phone": PHONE})
    login = client.post("/api/v1/auth/sms/login", json={"phone": PHONE, "code": sms.last_code(PHONE)})
    assert login.json["user"]["id"] == grid.public_id

    entry = database.session.scalar(sa.select(AuditEntry).where(AuditEntry.action == "auth.accounts_merged"))
    assert entry.actor_user_id == admin.id
    assert (entry.target_kind, entry.target_id) == ("user", grid.public_id)
    assert entry.reason == "本人持身份证到社区核实，两个账号为同一人"
    assert entry.before == {"keep": grid.public_id, "fold": phone_app.public_id}
    assert entry.after["moved"] == ["phone"]
    assert entry.after["resident_moved"] == resident.public_id


def test_the_kept_account_keeps_its_own_logins_and_the_folded_ones_are_dropped(
    client, db, admin, make_user, auth_header
):
    keep = make_user("甲", wechat_openid="openid-keep", phone="+8613800138001", platform_roles=("staff",))
    fold = make_user("乙", wechat_openid="openid-fold", wechat_unionid="union-fold", phone="+8613800138002")
    set_password("yi.vendor", "a good vendor password", user=fold, reason="test")

    response = post_merge(client, auth_header, admin, keep=keep, fold=fold)

    assert response.status_code == 200, response.json
    assert response.json["moved"] == ["username", "wechat_unionid"]
    assert response.json["dropped"] == ["phone", "wechat_openid"]
    kept, folded = fresh(keep), fresh(fold)
    assert (kept.wechat_openid, kept.wechat_unionid, kept.phone) == ("openid-keep", "union-fold", "+8613800138001")
    assert kept.username == "yi.vendor"
    # A folded account holds no login at all: the dropped ones can sign up afresh rather than stay locked away.
    assert [folded.wechat_openid, folded.wechat_unionid, folded.phone, folded.username, folded.password_hash] == [
        None
    ] * 5
    # The password went with the username.
    login = client.post(
        "/api/v1/auth/password/login", json={"username": "yi.vendor", "password": "a good vendor password"}
    )
    assert login.json["user"]["id"] == keep.public_id
    entry = database.session.scalar(sa.select(AuditEntry).where(AuditEntry.action == "auth.accounts_merged"))
    assert entry.after["dropped"] == ["phone", "wechat_openid"]


def test_role_assignments_move_and_duplicates_are_dropped(client, db, tree, admin, make_user, auth_header):
    keep = make_user("甲")
    fold = make_user("乙")
    with atomic():
        for user, role, region in ((keep, "staff", tree.a), (fold, "staff", tree.a), (fold, "grid_worker", tree.b)):
            database.session.add(RoleAssignment(user_id=user.id, role=role, scope_kind="community", scope_id=region.id))

    response = post_merge(client, auth_header, admin, keep=keep, fold=fold)

    assert response.status_code == 200, response.json
    assert response.json["roles_moved"] == [{"role": "grid_worker", "scope_kind": "community"}]
    assert roles(keep) == {("staff", "community", tree.a.id), ("grid_worker", "community", tree.b.id)}
    assert roles(fold) == set()


def test_accounts_linked_to_two_residents_are_refused_and_nothing_changes(
    client, db, tree, admin, make_user, sign_in, auth_header
):
    keep, fold = make_user("甲"), make_user("乙", phone=PHONE)
    keep_resident = give_resident(keep, community=tree.a, sequence="991")
    fold_resident = give_resident(fold, community=tree.a, sequence="993")
    tokens = sign_in(fold)

    response = post_merge(client, auth_header, admin, keep=keep, fold=fold)

    assert response.status_code == 409
    assert response.json["code"] == "residents_must_be_merged"
    assert response.json["details"] == {
        "keep_resident": keep_resident.public_id,
        "fold_resident": fold_resident.public_id,
    }
    folded = fresh(fold)
    assert (folded.is_active, folded.phone, folded.merged_into_id) == (True, PHONE, None)
    assert client.get("/api/v1/auth/sessions", headers=bearer(tokens.access_token)).status_code == 200
    assert database.session.scalar(sa.select(AuditEntry).where(AuditEntry.action == "auth.accounts_merged")) is None


def test_community_staff_merge_accounts_of_a_resident_in_their_community(
    client, db, tree, make_user, community_role, auth_header
):
    staff = community_role(tree.a, "staff")
    keep = make_user("王丽", phone=PHONE)
    resident = give_resident(keep, community=tree.a, name="王丽")
    fold = make_user("微信用户", wechat_openid="openid-wang")

    response = post_merge(client, auth_header, staff, keep=keep, fold=fold)

    assert response.status_code == 200, response.json
    assert response.json["resident_id"] == resident.public_id
    assert fresh(keep).wechat_openid == "openid-wang"


@pytest.mark.parametrize(
    ("who", "status", "code"),
    [
        ("staff_of_b", 404, "user_not_found"),  # another community's resident: not revealed
        ("grid_worker_of_a", 403, "forbidden"),  # in scope, but grid workers may not merge
    ],
)
def test_community_roles_outside_their_scope_or_rights_cannot_merge(
    client, db, tree, make_user, community_role, auth_header, who, status, code
):
    actor = community_role(tree.b, "staff") if who == "staff_of_b" else community_role(tree.a, "grid_worker")
    keep = make_user("王丽", phone=PHONE)
    give_resident(keep, community=tree.a)
    fold = make_user("微信用户", wechat_openid="openid-wang")

    response = post_merge(client, auth_header, actor, keep=keep, fold=fold)

    assert (response.status_code, response.json["code"]) == (status, code)
    assert fresh(fold).is_active is True


def test_community_staff_cannot_merge_accounts_without_a_resident_in_their_scope(
    client, db, tree, make_user, community_role, auth_header
):
    staff = community_role(tree.a, "staff")
    response = post_merge(client, auth_header, staff, keep=make_user("甲", phone=PHONE), fold=make_user("乙"))
    assert (response.status_code, response.json["code"]) == (404, "user_not_found")


def test_accounts_holding_roles_are_merged_by_platform_admins_only(
    client, db, tree, make_user, community_role, auth_header
):
    staff = community_role(tree.a, "admin")
    keep = make_user("王丽", phone=PHONE)
    give_resident(keep, community=tree.a)
    colleague = community_role(tree.a, "staff")

    response = post_merge(client, auth_header, staff, keep=keep, fold=colleague)

    assert (response.status_code, response.json["code"]) == (403, "merge_needs_platform_admin")
    assert roles(colleague) == {("staff", "community", tree.a.id)}


def test_nobody_merges_their_own_account(client, db, admin, make_user, auth_header):
    response = post_merge(client, auth_header, admin, keep=admin, fold=make_user("乙"))
    assert (response.status_code, response.json["code"]) == (403, "merge_own_account")


def test_an_account_cannot_be_merged_into_itself(client, db, admin, make_user, auth_header):
    user = make_user("甲")
    response = post_merge(client, auth_header, admin, keep=user, fold=user)
    assert (response.status_code, response.json["code"]) == (422, "merge_same_account")


def test_an_unknown_account_is_404(client, db, admin, make_user, auth_header):
    response = client.post(
        MERGE,
        json={"keep": make_user("甲").public_id, "fold": "no-such-account", "reason": "核实"},
        headers=auth_header(admin),
    )
    assert (response.status_code, response.json["code"]) == (404, "user_not_found")


def test_merging_again_is_409_and_names_the_account_it_went_into(client, db, admin, make_user, auth_header):
    keep, fold = make_user("甲"), make_user("乙", phone=PHONE)
    assert post_merge(client, auth_header, admin, keep=keep, fold=fold).status_code == 200

    again = post_merge(client, auth_header, admin, keep=keep, fold=fold)

    assert again.status_code == 409
    assert again.json["code"] == "account_inactive"
    assert again.json["details"] == {"user_id": fold.public_id, "merged_into": keep.public_id}


def test_accounts_merged_earlier_point_at_the_final_account(client, db, admin, make_user, auth_header):
    first, middle, last = make_user("甲"), make_user("乙"), make_user("丙")
    assert post_merge(client, auth_header, admin, keep=middle, fold=first).status_code == 200
    assert post_merge(client, auth_header, admin, keep=last, fold=middle).status_code == 200
    assert fresh(first).merged_into_id == last.id


def test_an_account_without_roles_gets_404_and_anonymous_401(client, db, make_user, auth_header):
    keep, fold = make_user("甲"), make_user("乙")
    resident_only = make_user("居民")
    assert post_merge(client, auth_header, resident_only, keep=keep, fold=fold).status_code == 404
    anonymous = client.post(MERGE, json={"keep": keep.public_id, "fold": fold.public_id, "reason": "核实"})
    assert anonymous.status_code == 401


def test_a_reason_is_required(client, db, admin, make_user, auth_header):
    response = post_merge(client, auth_header, admin, keep=make_user("甲"), fold=make_user("乙"), reason="")
    assert response.status_code == 422
    assert "reason" in response.json["details"]["fields"]["json"]


def test_the_spec_declares_who_may_merge(client, db):
    operation = client.get("/openapi.json").json["paths"][MERGE]["post"]
    assert operation["x-access"]["scope"]["action"] == "account.merge"
    assert operation["x-access"]["scope"]["roles"] == ["admin", "staff"]


def test_registered_merge_steps_run_in_the_same_unit_of_work(client, db, admin, make_user, auth_header, monkeypatch):
    calls = []
    monkeypatch.setitem(merge._merge_steps, "probe", lambda absorbed, survivor: calls.append((absorbed, survivor)))
    keep, fold = make_user("甲"), make_user("乙")
    assert post_merge(client, auth_header, admin, keep=keep, fold=fold).status_code == 200
    assert calls == [(fold.id, keep.id)]

    class Refused(Conflict):
        code = "probe_refused"

    def refuse(absorbed, survivor):
        raise Refused()

    monkeypatch.setitem(merge._merge_steps, "probe", refuse)
    other = make_user("丙", phone=PHONE)
    response = post_merge(client, auth_header, admin, keep=keep, fold=other)
    assert (response.status_code, response.json["code"]) == (409, "probe_refused")
    assert (fresh(other).is_active, fresh(other).phone, fresh(keep).phone) == (True, PHONE, None)


def test_two_opposite_merges_at_once_leave_exactly_one_account(app, committed_db, make_user):
    admin = make_user("平台管理员", platform_roles=("admin",))
    one, two = make_user("甲", phone="+8613800138001"), make_user("乙", wechat_openid="openid-2")
    outcomes = []

    def attempt(keep, fold):
        try:
            merge.merge_accounts(admin, keep=keep.public_id, fold=fold.public_id, reason="并发测试")
            outcomes.append("merged")
        except Exception as error:
            outcomes.append(getattr(error, "code", repr(error)))

    pairs = queue.SimpleQueue()
    for pair in [(one, two), (two, one)] * 2:
        pairs.put(pair)
    race(app, 4, lambda: attempt(*pairs.get()))

    assert sorted(outcomes) == ["account_inactive"] * 3 + ["merged"]
    active = committed_db.session.scalars(sa.select(User).where(User.id.in_([one.id, two.id]), User.is_active)).all()
    assert len(active) == 1
    survivor = active[0]
    assert (survivor.phone, survivor.wechat_openid) == ("+8613800138001", "openid-2")
