"""The visit of a care order: assignment by skill, check-in with a private photo, check-out, confirmation with a
rating turning the subsidy hold into a claim (and profit sharing once), the family told at each step, auto-confirm,
late-check-in alerts, "no answer at the door", caregiver no-show, and who may see what."""

import io
import struct
import zlib
from datetime import timedelta

import pytest
import sqlalchemy as sa

from app.accounts.resident_models import Resident
from app.db import atomic, utcnow
from app.extensions import db as database
from app.outbox import OutboxRow
from app.push.models import Delivery
from eldercare import jobs
from eldercare.models import CareOrder, LedgerKind, SubsidyLedgerEntry, SubsidyQuota
from eldercare.visit_models import Visit
from eldercare.visits import CHECK_IN_EVENT, CHECK_OUT_EVENT
from eldercare.visits_alerts import LATE_EVENT, NO_ANSWER_EVENT, PROVIDER_ALERT_EVENT
from tests.eldercare.fixtures import E, add_provider, add_role, tomorrow

# --- helpers (also used by test_cancel and test_claims) -------------------------------------------------------------


def _png() -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\x00\x00\x00\x00"))
        + chunk(b"IEND", b"")
    )


def stored(public_id: str) -> CareOrder:
    return database.session.scalar(
        sa.select(CareOrder).where(CareOrder.public_id == public_id).execution_options(populate_existing=True)
    )


def visit_row(public_id: str) -> Visit:
    return database.session.scalar(
        sa.select(Visit)
        .join(CareOrder, CareOrder.id == Visit.order_id)
        .where(CareOrder.public_id == public_id)
        .execution_options(populate_existing=True)
    )


def ledger(resident) -> list[tuple[str, int]]:
    rows = database.session.execute(
        sa.select(SubsidyLedgerEntry.kind, SubsidyLedgerEntry.amount_fen)
        .where(SubsidyLedgerEntry.resident_id == resident.id)
        .order_by(SubsidyLedgerEntry.id)
    ).all()
    return [(kind.value, amount) for kind, amount in rows]


def quota(resident) -> tuple[int, int]:
    row = database.session.scalar(
        sa.select(SubsidyQuota).where(SubsidyQuota.resident_id == resident.id).execution_options(populate_existing=True)
    )
    return row.held_fen, row.claimed_fen


def place(api, care, *, elder=None, user=None, scheduled_at=None):
    body = {
        "offer_id": care.offer.public_id,
        "elder_id": (elder or care.elder).public_id,
        "scheduled_at": scheduled_at or tomorrow(),
    }
    placed = api(user or care.daughter_user, "post", f"{E}/orders", json=body)
    assert placed.status_code == 201, placed.json
    return placed.json


def pay(api, user, order_id: str):
    """Pay the copay in the sandbox, as the family would; returns the Payment."""
    from payments import mark_paid
    from payments.models import Payment

    opened = api(
        user, "post", "/api/v1/payments", json={"kind": "eldercare.care_order", "ids": [order_id], "channel": "sandbox"}
    )
    assert opened.status_code == 201, opened.json
    payment = database.session.scalar(sa.select(Payment).where(Payment.public_id == opened.json["id"]))
    with atomic():
        mark_paid(
            payment.out_trade_no, payment.amount_fen, f"T{payment.id}", utcnow(), {"test": True}, channel="sandbox"
        )
    return payment


def accepted(api, care, *, elder=None, scheduled_at=None) -> str:
    """An order placed by the daughter (or for ``elder``), its copay paid, accepted by the provider."""
    order = place(api, care, elder=elder, scheduled_at=scheduled_at)
    if order["copay_fen"]:
        pay(api, care.daughter_user, order["id"])
    answer = api(care.admin, "post", f"{E}/orders/{order['id']}/accept", json={})
    assert answer.status_code == 200, answer.json
    return order["id"]


def skilled(api, care, caregiver=None, skills=("bath",)):
    caregiver = caregiver or care.caregiver
    answer = api(
        care.admin,
        "put",
        f"{E}/providers/{care.provider.public_id}/caregivers/{caregiver.public_id}",
        json={"skills": list(skills)},
    )
    assert answer.status_code == 200, answer.json
    return answer.json


def assigned(api, care, caregiver=None) -> str:
    order_id = accepted(api, care)
    skilled(api, care, caregiver)
    answer = api(
        care.admin,
        "post",
        f"{E}/orders/{order_id}/assign",
        json={"caregiver_id": (caregiver or care.caregiver).public_id},
    )
    assert answer.status_code == 200, answer.json
    return order_id


def check_in(api, care, order_id, caregiver=None, **extra):
    return api(
        caregiver or care.caregiver,
        "post",
        f"{E}/orders/{order_id}/check-in",
        json={"lat": 39.9042, "lng": 116.4074, **extra},
    )


def check_out(api, care, order_id, caregiver=None):
    return api(
        caregiver or care.caregiver,
        "post",
        f"{E}/orders/{order_id}/check-out",
        json={"service_record": "协助洗浴，修剪指甲", "notes": "老人精神好"},
    )


def delivered(api, care, order_id, caregiver=None, rating=5):
    assert check_in(api, care, order_id, caregiver).status_code == 200
    assert check_out(api, care, order_id, caregiver).status_code == 200
    answer = api(care.daughter_user, "post", f"{E}/orders/{order_id}/confirm", json={"rating": rating})
    assert answer.status_code == 200, answer.json
    return answer.json


def deliveries(public_id: str, event: str) -> list[Delivery]:
    return list(
        database.session.scalars(
            sa.select(Delivery)
            .where(
                Delivery.source_kind == "eldercare.care_order", Delivery.source_id == public_id, Delivery.event == event
            )
            .order_by(Delivery.id)
        )
    )


def refunds_of(order_id: str) -> list[int]:
    from payments.models import Payment, Refund

    return list(
        database.session.scalars(
            sa.select(Refund.amount_fen)
            .join(Payment, Payment.id == Refund.payment_id)
            .where(Payment.public_id == stored(order_id).payment_public_id)
            .order_by(Refund.id)
        )
    )


def due_now(key: str) -> None:
    with atomic():
        database.session.execute(sa.update(OutboxRow).where(OutboxRow.key == key).values(run_at=utcnow()))


# --- the full flow ---------------------------------------------------------------------------------------------------


def test_full_flow_from_assignment_to_confirmation_claims_the_subsidy_and_tells_the_family(
    api, care, client, auth_header, make_user
):
    order_id = assigned(api, care)
    photo = client.post(
        "/api/v1/files",
        data={"file": (io.BytesIO(_png()), "门口.png")},
        content_type="multipart/form-data",
        headers=auth_header(care.caregiver),
    )
    assert photo.status_code == 201, photo.json

    arrived = check_in(api, care, order_id, photo_id=photo.json["id"])
    assert arrived.status_code == 200, arrived.json
    assert arrived.json["status"] == "in_service"
    assert arrived.json["check_in_location"] == {"lat": 39.9042, "lng": 116.4074}
    assert arrived.json["caregiver"]["name"] == "护理员小张"
    assert arrived.json["address"].startswith("幸福社区")
    assert arrived.json["address"].endswith("101")
    (told,) = deliveries(order_id, CHECK_IN_EVENT)
    assert "护理员小张" in told.body
    assert told.scope == "eldercare"

    left = check_out(api, care, order_id)
    assert left.status_code == 200, left.json
    assert left.json["status"] == "serviced"
    assert left.json["service_record"] == "协助洗浴，修剪指甲"
    assert len(deliveries(order_id, CHECK_OUT_EVENT)) == 1
    assert ledger(care.elder) == [("hold", 2700)]  # nothing claimed before the family confirms

    # The daughter reads the visit, photo included (a private file behind a signed URL); a stranger cannot.
    seen = api(care.daughter_user, "get", f"{E}/orders/{order_id}/visit")
    assert seen.status_code == 200, seen.json
    assert seen.json["check_in_photo"]["id"] == photo.json["id"]
    assert api(care.daughter_user, "get", f"/api/v1/files/{photo.json['id']}").status_code == 200
    other_admin = make_user("别家管理员")
    add_provider(other_admin, [care.tree.a], name="福寿护理站")
    assert api(other_admin, "get", f"/api/v1/files/{photo.json['id']}").status_code == 404

    assert api(care.daughter_user, "post", f"{E}/orders/{order_id}/confirm", json={"rating": 6}).status_code == 422
    confirmed = api(
        care.daughter_user, "post", f"{E}/orders/{order_id}/confirm", json={"rating": 5, "comment": "很细心"}
    )
    assert confirmed.status_code == 200, confirmed.json
    assert (confirmed.json["status"], confirmed.json["rating"], confirmed.json["rating_comment"]) == (
        "delivered",
        5,
        "很细心",
    )
    assert confirmed.json["auto_confirmed"] is False
    assert ledger(care.elder) == [("hold", 2700), ("claim", 2700)]
    assert quota(care.elder) == (0, 2700)
    assert stored(order_id).delivered_at is not None

    again = api(care.elder_user, "post", f"{E}/orders/{order_id}/confirm", json={"rating": 1})
    assert again.status_code == 409
    assert ledger(care.elder) == [("hold", 2700), ("claim", 2700)]


def test_profit_sharing_is_requested_once_when_the_family_confirms_a_wechat_paid_copay(api, care):
    from payments.gateways.models import ProfitShare
    from payments.models import Payee, Payment

    order_id = assigned(api, care)
    payment_id = stored(order_id).payment_public_id
    with atomic():  # the copay went through WeChat Pay to a payee that pays the platform a commission
        database.session.execute(
            sa.update(Payment).where(Payment.public_id == payment_id).values(channel="wechat_jsapi")
        )
        database.session.execute(sa.update(Payee).where(Payee.id == care.provider.payee_id).values(commission_bps=100))
    delivered(api, care, order_id)
    shares = database.session.scalars(
        sa.select(ProfitShare)
        .join(Payment, Payment.id == ProfitShare.payment_id)
        .where(Payment.public_id == payment_id)
    ).all()
    assert len(shares) == 1
    with atomic():
        jobs.auto_confirm_visit(stored(order_id).id)  # a late auto-confirm changes nothing
    assert database.session.scalar(sa.select(sa.func.count()).select_from(ProfitShare)) == 1


def test_visit_checked_out_and_not_confirmed_is_delivered_automatically_after_the_hours(api, care, run_jobs):
    order_id = assigned(api, care)
    check_in(api, care, order_id)
    check_out(api, care, order_id)
    run_jobs()
    assert stored(order_id).status.value == "serviced"  # not due yet
    with atomic():
        database.session.execute(
            sa.update(Visit)
            .where(Visit.order_id == stored(order_id).id)
            .values(checked_out_at=utcnow() - timedelta(hours=25))
        )
    due_now(f"eldercare.auto_confirm:{stored(order_id).id}")
    run_jobs()
    assert stored(order_id).status.value == "delivered"
    assert visit_row(order_id).auto_confirmed is True
    assert ledger(care.elder) == [("hold", 2700), ("claim", 2700)]


# --- assignment --------------------------------------------------------------------------------------------------


def test_assignment_needs_the_skill_and_reassignment_stops_at_check_in(api, care, make_user):
    order_id = accepted(api, care)
    skilled(api, care, skills=("meal",))
    wrong = api(care.admin, "post", f"{E}/orders/{order_id}/assign", json={"caregiver_id": care.caregiver.public_id})
    assert wrong.status_code == 422
    assert wrong.json["code"] == "caregiver_skill_mismatch"

    outsider = make_user("不是护理员")
    not_ours = api(care.admin, "post", f"{E}/orders/{order_id}/assign", json={"caregiver_id": outsider.public_id})
    assert not_ours.status_code == 404
    assert not_ours.json["code"] == "caregiver_not_found"

    second = make_user("护理员小李")
    add_role(care.provider, second, "caregiver")
    skilled(api, care, skills=("bath", "meal"))
    skilled(api, care, second)
    first = api(care.admin, "post", f"{E}/orders/{order_id}/assign", json={"caregiver_id": care.caregiver.public_id})
    assert first.status_code == 200, first.json
    moved = api(care.admin, "post", f"{E}/orders/{order_id}/assign", json={"caregiver_id": second.public_id})
    assert moved.json["caregiver"]["name"] == "护理员小李"
    # The first caregiver lost it: 404 for them now.
    assert check_in(api, care, order_id).status_code == 404
    assert check_in(api, care, order_id, second).status_code == 200
    late = api(care.admin, "post", f"{E}/orders/{order_id}/assign", json={"caregiver_id": care.caregiver.public_id})
    assert late.status_code == 409
    assert late.json["code"] == "visit_already_started"
    # A caregiver cannot assign.
    assert (
        api(second, "post", f"{E}/orders/{order_id}/assign", json={"caregiver_id": second.public_id}).status_code == 403
    )


def test_caregiver_list_shows_their_skills(api, care):
    skilled(api, care, skills=("cleaning", "bath"))
    listed = api(care.admin, "get", f"{E}/providers/{care.provider.public_id}/caregivers")
    assert listed.status_code == 200, listed.json
    assert listed.json["items"] == [
        {"user_id": care.caregiver.public_id, "name": "护理员小张", "skills": ["bath", "cleaning"]}
    ]
    assert api(care.caregiver, "get", f"{E}/providers/{care.provider.public_id}/caregivers").status_code == 403


# --- who sees what -------------------------------------------------------------------------------------------------


def test_a_caregiver_sees_only_their_own_assignments(api, care, make_user):
    mine = assigned(api, care)
    theirs = accepted(api, care)
    colleague = make_user("护理员小王")
    add_role(care.provider, colleague, "caregiver")
    skilled(api, care, colleague)
    api(care.admin, "post", f"{E}/orders/{theirs}/assign", json={"caregiver_id": colleague.public_id})
    unassigned = accepted(api, care)

    for order_id in (theirs, unassigned):
        assert api(care.caregiver, "get", f"{E}/orders/{order_id}").status_code == 404
        assert api(care.caregiver, "get", f"{E}/orders/{order_id}/visit").status_code == 404
        assert check_in(api, care, order_id).status_code == 404
        assert api(care.caregiver, "post", f"{E}/orders/{order_id}/no-answer", json={}).status_code == 404
    assert api(care.caregiver, "get", f"{E}/orders/{mine}").status_code == 200

    listed = api(care.caregiver, "get", f"{E}/visits")
    assert [item["order_id"] for item in listed.json["items"]] == [mine]
    assert listed.json["items"][0]["elder_name"] == "王秀兰"
    worklist = api(care.caregiver, "get", f"{E}/providers/{care.provider.public_id}/orders")
    assert [item["id"] for item in worklist.json["items"]] == [mine]
    everything = api(care.admin, "get", f"{E}/providers/{care.provider.public_id}/orders")
    assert {item["id"] for item in everything.json["items"]} == {mine, theirs, unassigned}


def test_a_delegate_without_the_eldercare_scope_cannot_confirm(api, care, make_resident):
    from datetime import date

    from tests.eldercare.fixtures import delegate

    order_id = assigned(api, care)
    check_in(api, care, order_id)
    check_out(api, care, order_id)
    son_user, son = make_resident("王强", born=date(1970, 2, 2), sequence="985")
    delegate(son, care.elder, scopes=("bills",))
    refused = api(son_user, "post", f"{E}/orders/{order_id}/confirm", json={"rating": 5})
    assert refused.status_code == 403
    assert refused.json["code"] == "delegation_denied"
    stranger_user, _ = make_resident("路人", born=date(1980, 2, 2), sequence="986")
    assert api(stranger_user, "post", f"{E}/orders/{order_id}/confirm", json={"rating": 5}).status_code == 404
    assert stored(order_id).status.value == "serviced"


def test_community_staff_confirm_for_an_elder_without_a_phone(api, care, make_staff):
    order_id = assigned(api, care)
    check_in(api, care, order_id)
    check_out(api, care, order_id)
    other = make_staff(care.tree.c)
    assert api(other, "post", f"{E}/orders/{order_id}/confirm", json={"rating": 4}).status_code == 404
    staff = make_staff(care.tree.a)
    answer = api(staff, "post", f"{E}/orders/{order_id}/confirm", json={"rating": 4, "comment": "电话回访确认"})
    assert answer.status_code == 200, answer.json
    assert answer.json["status"] == "delivered"


def test_caregiver_assignment_list_statement_count_does_not_grow_with_the_page(api, care, count_queries):
    skilled(api, care)
    for _ in range(6):
        order_id = accepted(api, care)
        api(care.admin, "post", f"{E}/orders/{order_id}/assign", json={"caregiver_id": care.caregiver.public_id})

    def statements(limit: int) -> int:
        with count_queries() as queries:
            answer = api(care.caregiver, "get", f"{E}/visits", query_string={"limit": limit})
        assert len(answer.json["items"]) == limit
        return len(queries)

    assert statements(2) == statements(6)


# --- alerts ----------------------------------------------------------------------------------------------------------


def _give_admin_a_phone_and_profile(care):
    with atomic():
        database.session.add(Resident(real_name="机构管理员", user_id=care.admin.id))


def _start_passed(order_id: str, minutes: int = 31) -> None:
    with atomic():
        database.session.execute(
            sa.update(CareOrder)
            .where(CareOrder.public_id == order_id)
            .values(scheduled_at=utcnow() - timedelta(minutes=minutes))
        )


def test_late_check_in_alert_fires_when_due_to_the_family_and_the_provider(api, care, run_jobs):
    from app.push.models import Message

    with atomic():
        from app.accounts.models import User

        database.session.execute(
            sa.update(User)
            .where(User.id == care.daughter_user.id)
            .values(phone="+8613800009001", phone_verified_at=utcnow())
        )
    _give_admin_a_phone_and_profile(care)
    order_id = assigned(api, care)
    order_pk = stored(order_id).id
    row = database.session.scalar(sa.select(OutboxRow).where(OutboxRow.key == f"eldercare.late:{order_pk}"))
    assert row.run_at == stored(order_id).scheduled_at + timedelta(minutes=30)

    run_jobs()
    assert deliveries(order_id, LATE_EVENT) == []  # not due

    _start_passed(order_id)
    due_now(f"eldercare.late:{order_pk}")
    run_jobs()
    (family,) = deliveries(order_id, LATE_EVENT)
    assert "护理员尚未签到" in family.body
    assert family.urgent is True
    (provider,) = deliveries(order_id, PROVIDER_ALERT_EVENT)
    assert "护理员未按时签到" in provider.body
    sms = database.session.scalars(
        sa.select(Message).where(Message.delivery_id == family.id, Message.channel == "sms")
    ).all()
    assert [m.user_id for m in sms] == [care.daughter_user.id]
    assert visit_row(order_id).late_alert_at is not None

    with atomic():
        jobs.late_check_in_alert(order_pk)  # delivered twice: one alert
    assert len(deliveries(order_id, LATE_EVENT)) == 1


def test_late_check_in_alert_is_not_sent_when_the_caregiver_checked_in(api, care, run_jobs):
    order_id = assigned(api, care)
    order_pk = stored(order_id).id
    assert check_in(api, care, order_id).status_code == 200
    _start_passed(order_id)
    due_now(f"eldercare.late:{order_pk}")
    run_jobs()
    assert deliveries(order_id, LATE_EVENT) == []
    assert visit_row(order_id).late_alert_at is None
    assert (
        database.session.scalar(sa.select(OutboxRow.status).where(OutboxRow.key == f"eldercare.late:{order_pk}")).value
        == "done"
    )


def test_late_check_in_alert_is_not_sent_for_a_cancelled_order(api, care, run_jobs):
    order_id = assigned(api, care)
    assert api(care.daughter_user, "post", f"{E}/orders/{order_id}/cancel", json={}).status_code == 200
    _start_passed(order_id)
    due_now(f"eldercare.late:{stored(order_id).id}")
    run_jobs()
    assert deliveries(order_id, LATE_EVENT) == []


@pytest.fixture
def sms(app, monkeypatch):
    from app.sms import get_sender

    monkeypatch.setitem(app.config, "SMS_BACKEND", "memory")
    sender = get_sender()
    sender.clear()
    yield sender
    sender.clear()


def test_no_answer_at_the_door_alerts_family_provider_and_emergency_contacts(api, care, run_jobs, sms):
    contacts = [
        {"name": "李娜", "phone": "+8613800009002", "relation": "女儿"},
        {"name": "邻居老赵", "phone": "+8613800009003", "relation": "邻居"},
    ]
    saved = api(care.daughter_user, "put", f"{E}/elders/{care.elder.public_id}", json={"emergency_contacts": contacts})
    assert saved.status_code == 200, saved.json
    _give_admin_a_phone_and_profile(care)
    order_id = assigned(api, care)

    reported = api(care.caregiver, "post", f"{E}/orders/{order_id}/no-answer", json={"note": "敲门十分钟无人应答"})
    assert reported.status_code == 200, reported.json
    assert reported.json["no_answer_at"] is not None
    run_jobs()
    assert len(deliveries(order_id, NO_ANSWER_EVENT)) == 1
    assert "无人应答" in deliveries(order_id, PROVIDER_ALERT_EVENT)[0].body
    for contact in contacts:
        (message,) = sms.sent_to(contact["phone"])
        assert "王秀兰" in message.text
        assert "010-88886666" in message.text

    again = api(care.caregiver, "post", f"{E}/orders/{order_id}/no-answer", json={})
    assert again.status_code == 409
    run_jobs()
    assert len(sms.sent_to(contacts[0]["phone"])) == 1
    # The door opened after all: the visit goes on.
    assert check_in(api, care, order_id).status_code == 200


# --- no-show ---------------------------------------------------------------------------------------------------------


def test_caregiver_no_show_releases_the_hold_once_and_refunds_the_copay(api, care, make_staff):
    order_id = assigned(api, care)
    early = api(care.admin, "post", f"{E}/orders/{order_id}/no-show", json={"reason": "护理员未到"})
    assert early.status_code == 409
    assert early.json["code"] == "no_show_too_early"

    _start_passed(order_id, minutes=45)
    assert api(care.caregiver, "post", f"{E}/orders/{order_id}/no-show", json={"reason": "x"}).status_code == 403
    assert (
        api(make_staff(care.tree.c), "post", f"{E}/orders/{order_id}/no-show", json={"reason": "x"}).status_code == 404
    )
    marked = api(make_staff(care.tree.a), "post", f"{E}/orders/{order_id}/no-show", json={"reason": "护理员未上门"})
    assert marked.status_code == 200, marked.json
    assert marked.json["status"] == "no_show"
    assert ledger(care.elder) == [("hold", 2700), ("release", 2700)]
    assert quota(care.elder) == (0, 0)
    assert refunds_of(order_id) == [300]

    again = api(care.admin, "post", f"{E}/orders/{order_id}/no-show", json={"reason": "再次标记"})
    assert again.status_code == 409
    assert ledger(care.elder) == [("hold", 2700), ("release", 2700)]
    assert [kind for kind, _ in ledger(care.elder)].count(LedgerKind.release.value) == 1


def test_late_check_in_alert_reaches_a_provider_without_a_profile_by_sms_to_its_contact_phone(api, care, run_jobs, sms):
    order_id = assigned(api, care)  # the provider admin has an account but no resident profile
    _start_passed(order_id)
    due_now(f"eldercare.late:{stored(order_id).id}")
    run_jobs()
    assert deliveries(order_id, PROVIDER_ALERT_EVENT) == []
    (message,) = sms.sent_to("010-88886666")
    assert "护理员未按时签到" in message.text
    assert order_id in message.text
