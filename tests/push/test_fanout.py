"""Fan-out: an audience query becomes exactly the right inbox rows, set-based, in batches, in jobs."""

import math
import time

import pytest
import sqlalchemy as sa
from flask.views import MethodView
from marshmallow import fields
from sqlalchemy.orm import aliased

from app import push
from app.accounts.resident_models import (
    Delegation,
    DelegationStatus,
    HouseholdMembership,
    MembershipStatus,
    Resident,
)
from app.api import Blueprint, Schema
from app.auth import require
from app.community.models import Household
from app.db import atomic, utcnow
from app.extensions import db as database
from app.outbox import OutboxRow, OutboxStatus
from app.push.fanout import fan_out
from app.push.models import AudienceChunk, Delivery, InboxItem, Unreachable
from tests.conftest import extra_app
from tests.push import population
from tests.push.conftest import delivery_of, fan_out_now

N = 10_000
BATCH = 1000
NOTICE = {"title": "关于冬季供暖的通知", "summary": "11月15日起供暖", "published_at": "2026-11-23 09:00"}


def community_audience(community_id: int):
    """Active members of the community's households: the kind of query a notice's audience is."""
    return (
        sa.select(HouseholdMembership.resident_id)
        .join(Household, Household.id == HouseholdMembership.household_id)
        .where(Household.community_id == community_id, HouseholdMembership.status == MembershipStatus.active)
    )


def expected_pairs(audience) -> set[tuple[int, int]]:
    """(account, resident) pairs that should get a row, asked of the tables directly."""
    own = sa.select(Resident.user_id, Resident.id).where(Resident.id.in_(audience), Resident.user_id.is_not(None))
    actor = aliased(Resident)
    delegated = (
        sa.select(actor.user_id, Delegation.subject_resident_id)
        .join(actor, actor.id == Delegation.actor_resident_id)
        .where(
            Delegation.subject_resident_id.in_(audience),
            Delegation.status == DelegationStatus.active,
            sa.or_(Delegation.expires_at.is_(None), Delegation.expires_at > sa.func.now()),
            sa.literal("notices") == sa.any_(Delegation.scopes),
            actor.user_id.is_not(None),
        )
    )
    return set(database.session.execute(own).all()) | set(database.session.execute(delegated).all())


def inbox_pairs(delivery_id: int) -> set[tuple[int, int]]:
    return set(
        database.session.execute(
            sa.select(InboxItem.user_id, InboxItem.resident_id).where(InboxItem.delivery_id == delivery_id)
        ).all()
    )


def test_fan_out_to_an_audience_query_writes_exactly_the_right_rows_in_one_statement_per_batch(
    db, tree, app, monkeypatch, count_queries
):
    rooms = [household.id for household in tree.rooms_a.values()]
    population.populate(N, rooms)
    population.populate(300, [tree.rooms_b["101"].id], prefix="other")  # not in the audience
    monkeypatch.setitem(app.config, "PUSH_BATCH_SIZE", BATCH)
    audience = community_audience(tree.a.id)

    with count_queries() as sending, atomic():
        receipt = push.send("test.notice", audience, NOTICE, source=("notice", "winter-heating"))
    assert receipt.audience == N
    assert len(sending) <= 6, sending  # the same few statements for 10 or 10,000 residents
    assert database.session.scalar(sa.select(sa.func.count()).select_from(InboxItem)) == 0

    delivery = delivery_of(receipt)
    with count_queries() as fanning, atomic():
        fan_out(delivery.id)
    database.session.refresh(delivery)
    batches = [statement for statement in fanning if "INSERT INTO push_inbox" in statement]
    assert len(batches) == N // BATCH  # one per chunk of the audience
    assert len(fanning) <= math.ceil(N / BATCH) + 5, len(fanning)

    assert inbox_pairs(delivery.id) == expected_pairs(audience)
    assert len(inbox_pairs(delivery.id)) == population.inbox_rows(N)
    unreachable = set(database.session.scalars(sa.select(Unreachable.resident_id)))
    names = dict(database.session.execute(sa.select(Resident.id, Resident.public_id)).all())
    assert {int(names[r].removeprefix("pr")) for r in unreachable} == set(range(1, N + 1)) - population.reachable(N)
    assert delivery.fanned_out_at is not None
    assert database.session.scalar(sa.select(sa.func.count()).select_from(AudienceChunk)) == 0

    stats = push.read_stats(("notice", "winter-heating"))
    assert stats == {
        "audience": N,
        "pending": 0,
        "reached": len(population.reachable(N)),
        "read": 0,
        "inbox_rows": population.inbox_rows(N),
        "read_rows": 0,
        "unreachable": N - len(population.reachable(N)),
    }


@pytest.mark.usefixtures("both_paths")
def test_running_a_fan_out_again_writes_nothing_twice(db, tree, person, delegate):
    _user, resident = person("李梅")
    _daughter_user, daughter = person("李梅女儿")
    delegate(daughter, resident)
    with atomic():
        receipt = push.send("test.notice", [resident.id], NOTICE, source=("notice", "again"))
    delivery = fan_out_now(receipt)
    with atomic():
        # Replay the whole fan-out, audience and all, as a job delivered twice might.
        delivery.fanned_out_at = None
        database.session.add(AudienceChunk(delivery_id=delivery.id, chunk=0, resident_ids=[resident.id]))
    fan_out_now(receipt)
    assert len(inbox_pairs(delivery.id)) == 2


def test_a_list_of_ids_works_too_and_erased_or_repeated_residents_are_left_out(db, person):
    _a, first = person("甲")
    _b, second = person("乙")
    _c, erased = person("丙")
    with atomic():
        erased.erased_at = utcnow()
        receipt = push.send("test.notice", [first.id, second.id, first.id, erased.id], NOTICE, source=("notice", "ids"))
    assert receipt.audience == 2


def test_a_send_with_a_key_is_recorded_once(db, person):
    _user, resident = person("赵")
    with atomic():
        first = push.send("test.notice", [resident.id], NOTICE, source=("notice", "k"), key="notice:k:publish")
        again = push.send("test.notice", [resident.id], NOTICE, source=("notice", "k"), key="notice:k:publish")
    assert (first.created, again.created) == (True, False)
    assert first.delivery_id == again.delivery_id
    assert database.session.scalar(sa.select(sa.func.count()).select_from(Delivery)) == 1


def test_an_audience_query_must_select_one_column(db, tree):
    with pytest.raises(ValueError, match="exactly one column"), atomic():
        push.send("test.notice", sa.select(Resident.id, Resident.user_id), NOTICE, source=("notice", "x"))


def test_an_empty_audience_is_fanned_out_at_once(db):
    with atomic():
        receipt = push.send("test.notice", [], NOTICE, source=("notice", "nobody"))
    assert receipt.audience == 0
    assert delivery_of(receipt).fanned_out_at is not None
    assert database.session.scalar(sa.select(sa.func.count()).select_from(OutboxRow)) == 0


# --- the elder without an account, and the resident nobody can reach -------------------------------------------------


def test_an_elder_without_an_account_is_reached_through_her_daughters_delegation(
    db, tree, make_resident, make_staff, join, api
):
    from datetime import date

    from tests.community.fixtures import id_number

    _none, elder = make_resident("王秀兰", born=date(1944, 5, 20), sequence="992", account=False, community=tree.a)
    daughter_user, _daughter = make_resident("王丽", born=date(1972, 3, 8), sequence="994")
    join(elder, tree.rooms_a["101"], "head")
    subject = {
        "real_name": "王秀兰",
        "document_type": "resident_id_card",
        "document_number": id_number(date(1944, 5, 20), "992"),
    }
    asked = api(
        daughter_user,
        "post",
        "/api/v1/delegations",
        json={"relationship": "child", "scopes": ["notices"], "subject": subject},
    )
    assert asked.status_code == 201, asked.json
    approved = api(
        make_staff(tree.a), "post", f"/api/v1/delegations/{asked.json['id']}/approve", json={"note": "老人当面确认"}
    )
    assert approved.status_code == 200, approved.json

    with atomic():
        push.send("test.notice", community_audience(tree.a.id), NOTICE, source=("notice", "heating"))
    fan_out_now_all()

    inbox = api(daughter_user, "get", "/api/v1/me/inbox")
    assert inbox.status_code == 200, inbox.json
    assert inbox.json["unread_count"] == 1
    item = inbox.json["items"][0]
    assert item["for_resident"] == {"id": elder.public_id, "name": "王**"}
    assert (item["title"], item["body"], item["source"]) == (
        "关于冬季供暖的通知",
        "11月15日起供暖",
        {"kind": "notice", "id": "heating"},
    )
    stats = push.read_stats(("notice", "heating"))
    assert (stats["reached"], stats["unreachable"], stats["read"]) == (1, 0, 0)

    assert api(daughter_user, "post", f"/api/v1/me/inbox/{item['id']}/read").status_code == 200
    assert push.read_stats(("notice", "heating"))["read"] == 1


@pytest.mark.usefixtures("both_paths")
@pytest.mark.parametrize(
    ("scopes", "status", "expired"),
    [
        (("eldercare",), "active", False),
        (("notices",), "pending", False),
        (("notices",), "active", True),
        (("notices",), "revoked", False),
    ],
    ids=["other_scope", "pending", "expired", "revoked"],
)
def test_a_delegate_without_a_live_notices_delegation_does_not_receive(db, person, delegate, scopes, status, expired):
    from datetime import timedelta

    _none, elder = person("孙奶奶", account=False)
    _user, daughter = person("孙女")
    delegate(daughter, elder, scopes, status=status, expires_at=utcnow() - timedelta(days=1) if expired else None)
    with atomic():
        receipt = push.send("test.notice", [elder.id], NOTICE, source=("notice", "n"))
    delivery = fan_out_now(receipt)
    assert inbox_pairs(delivery.id) == set()
    assert database.session.scalars(sa.select(Unreachable.resident_id)).all() == [elder.id]


@pytest.mark.usefixtures("both_paths")
def test_an_event_with_another_scope_reaches_delegates_holding_that_scope(db, person, delegate):
    _none, elder = person("周爷爷", account=False)
    daughter_user, daughter = person("周女儿")
    delegate(daughter, elder, ("marketplace",))
    with atomic():
        receipt = push.send("test.pickup", [elder.id], {"locker": "3号柜", "code": "123456"}, source=("order", "o1"))
    delivery = fan_out_now(receipt)
    assert inbox_pairs(delivery.id) == {(daughter_user.id, elder.id)}


def test_residents_nobody_can_reach_are_listed_for_staff_in_scope(db, tree, person, join, make_staff, make_user, api):
    _none, alone = person("钱大爷", account=False, community=tree.a)
    join(alone, tree.rooms_a["102"])
    _user, reached = person("钱家邻居")
    _none, far = person("远方老人", account=False, community=tree.c)
    with atomic():
        push.send("test.notice", [alone.id, reached.id, far.id], NOTICE, source=("notice", "visit"))
    fan_out_now_all()
    query = "/api/v1/push/unreachable?source_kind=notice&source_id=visit"

    listed = api(make_staff(tree.a), "get", query)
    assert listed.status_code == 200, listed.json
    assert listed.json["items"] == [
        {
            "id": alone.public_id,
            "real_name": "钱大爷",
            "reason": "no_account",
            "addresses": ["幸福社区 · 幸福家园 · 1号楼 · 1单元 · 102"],
        }
    ]
    street_staff = api(make_staff(tree.street, "grid_worker"), "get", query)
    assert [item["id"] for item in street_staff.json["items"]] == [alone.public_id]
    other = api(make_staff(tree.c), "get", query)
    assert [item["id"] for item in other.json["items"]] == [far.public_id]
    platform = api(make_staff(None, "admin"), "get", query)
    assert {item["id"] for item in platform.json["items"]} == {alone.public_id, far.public_id}
    assert api(make_user("普通居民"), "get", query).status_code == 403
    assert push.read_stats(("notice", "visit"))["unreachable"] == 2


def test_a_resident_reached_by_a_later_send_of_the_source_leaves_the_list(db, tree, person, delegate, make_staff, api):
    _none, elder = person("吴奶奶", account=False, community=tree.a)
    with atomic():
        push.send("test.notice", [elder.id], NOTICE, source=("notice", "twice"))
    fan_out_now_all()
    _user, son = person("吴儿子")
    delegate(son, elder)
    with atomic():
        push.send("test.notice", [elder.id], {**NOTICE, "title": "再次提醒"}, source=("notice", "twice"))
    fan_out_now_all()
    listed = api(make_staff(tree.a), "get", "/api/v1/push/unreachable?source_kind=notice&source_id=twice")
    assert listed.json["items"] == []
    assert push.read_stats(("notice", "twice"))["unreachable"] == 0


def fan_out_now_all() -> None:
    pending = database.session.scalars(sa.select(Delivery.id).where(Delivery.fanned_out_at.is_(None))).all()
    for delivery_id in pending:
        with atomic():
            fan_out(delivery_id)


# --- no request waits on the fan-out ----------------------------------------------------------------------------------

probe = Blueprint("push_probe", __name__, url_prefix="/api/v1/test-probe/push")


class ProbeSchema(Schema):
    community_id = fields.Integer(required=True)


@probe.route("")
class PushProbe(MethodView):
    @probe.arguments(ProbeSchema)
    @probe.response(202)
    @require(public=True)
    def post(self, data):
        """Publish to a community (as a notice would)"""
        with atomic():
            receipt = push.send(
                "test.notice", community_audience(data["community_id"]), NOTICE, source=("notice", "req")
            )
        return {"delivery_id": receipt.delivery_id, "audience": receipt.audience}


def test_ten_thousand_recipients_are_fanned_out_in_jobs_after_the_request_returns(
    database_url, redis_url, committed_db, app, run_jobs, monkeypatch
):
    from tests.community.fixtures import build_tree

    tree = build_tree()
    population.populate(N, [household.id for household in tree.rooms_a.values()])
    monkeypatch.setitem(app.config, "PUSH_BATCH_SIZE", BATCH)

    with extra_app(database_url, redis_url, extra_blueprints=(probe,), PUSH_BATCH_SIZE=BATCH) as web:
        started = time.monotonic()
        response = web.test_client().post("/api/v1/test-probe/push", json={"community_id": tree.a.id})
        elapsed = time.monotonic() - started
    assert response.status_code == 202, response.json
    assert response.json["audience"] == N
    committed_db.session.remove()
    delivery = committed_db.session.scalar(sa.select(Delivery))
    assert delivery.fanned_out_at is None
    assert committed_db.session.scalar(sa.select(sa.func.count()).select_from(InboxItem)) == 0
    assert elapsed < 5  # no fan-out inside: the request wrote the delivery, its audience chunks and their jobs
    committed_db.session.remove()

    run_jobs()

    delivery = committed_db.session.scalar(sa.select(Delivery))
    assert delivery.fanned_out_at is not None
    assert delivery.fan_out_jobs == math.ceil(N / BATCH)  # one job per chunk
    assert inbox_pairs(delivery.id) == expected_pairs(community_audience(tree.a.id))
    jobs = committed_db.session.scalars(sa.select(OutboxRow).where(OutboxRow.key.like("push:fan_out:%"))).all()
    assert len(jobs) == math.ceil(N / BATCH)
    assert {job.status for job in jobs} == {OutboxStatus.done}
    assert {job.queue for job in jobs} == {"push"}
