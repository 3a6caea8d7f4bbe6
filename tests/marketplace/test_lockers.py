"""Smart lockers: dispatch reserves cells in the resident's courtyard cabinet (or falls back to the shop), the signed
device deposits, the resident opens with the pickup code, deadlines hand the cells to the vendor with a retrieval code
and refund per the vendor's policy, health checks quarantine cells, and who may see or touch what."""

from __future__ import annotations

import json as jsonlib
import re
import secrets
import time
from datetime import timedelta

import pytest
import sqlalchemy as sa

from app.accounts.crypto import encrypt
from app.accounts.resident_models import Resident
from app.db import atomic, utcnow
from app.extensions import db as database
from app.outbox import OutboxRow
from marketplace import jobs
from marketplace.devices import sign
from marketplace.locker_models import CellState, Locker, LockerCell, LockerNonce, LockerStatus
from marketplace.lockers import SECRET_PURPOSE, add_cells
from marketplace.models import Fulfilment, Order, OrderStatus, StorageZone
from payments.models import Payment, Refund
from tests.community.fixtures import make_delegation
from tests.marketplace.fixtures import M, add_product, add_role, add_vendor

CHILLED_8 = [{"size": "M", "zone": "chilled", "count": 8}]


def add_locker(estate, groups=None, *, name="1号生鲜柜") -> tuple[Locker, str]:
    """A cabinet in ``estate`` (default: 8 chilled M cells, 2 frozen, 2 ambient) and its device secret."""
    secret = secrets.token_urlsafe(24)
    with atomic():
        locker = Locker(
            estate_id=estate.id,
            community_id=estate.community_id,
            name=name,
            secret_encrypted=encrypt(secret, purpose=SECRET_PURPOSE),
            last_heartbeat_at=utcnow(),
        )
        database.session.add(locker)
        database.session.flush()
        add_cells(
            locker,
            groups
            if groups is not None
            else [
                *CHILLED_8,
                {"size": "M", "zone": "frozen", "count": 2},
                {"size": "L", "zone": "ambient", "count": 2},
            ],
        )
    return locker, secret


def device_headers(secret, method, path, body: bytes, *, query="", timestamp=None, nonce=None) -> dict[str, str]:
    timestamp = str(int(time.time()) if timestamp is None else timestamp)
    nonce = nonce or secrets.token_hex(12)
    return {
        "X-Locker-Timestamp": timestamp,
        "X-Locker-Nonce": nonce,
        "X-Locker-Signature": sign(secret, method, path, query, timestamp, nonce, body),
        "Content-Type": "application/json",
    }


@pytest.fixture
def device(client):
    """``device(locker, secret, action, payload, **header_overrides)`` → response of a signed device request."""

    def call(locker, secret, action, payload, **overrides):
        path = f"{M}/devices/lockers/{locker.public_id}/{action}"
        body = jsonlib.dumps(payload).encode()
        headers = device_headers(secret, "POST", path, body, **overrides)
        return client.post(path, data=body, headers=headers)

    return call


def cells_of(locker) -> dict[int, LockerCell]:
    rows = database.session.scalars(
        sa.select(LockerCell).where(LockerCell.locker_id == locker.id).execution_options(populate_existing=True)
    )
    return {cell.number: cell for cell in rows}


def order_row(public_id: str) -> Order:
    return database.session.scalar(
        sa.select(Order).where(Order.public_id == public_id).execution_options(populate_existing=True)
    )


def refunds_of(order_public_id: str) -> list[Refund]:
    return database.session.scalars(
        sa.select(Refund)
        .join(Payment, Payment.id == Refund.payment_id)
        .where(Payment.public_id == order_row(order_public_id).payment_public_id)
        .execution_options(populate_existing=True)
    ).all()


def inbox_titles(api, user) -> list[str]:
    return [item["title"] for item in api(user, "get", "/api/v1/me/inbox").json["items"]]


def make_due(key_prefix: str) -> None:
    with atomic():
        database.session.execute(
            sa.update(OutboxRow).where(OutboxRow.key.startswith(key_prefix)).values(run_at=utcnow())
        )


@pytest.fixture
def prepared(market, place, pay, api):
    """``prepared(lines=None, user=None, **order)`` → the public id of a paid order the vendor is preparing."""

    def make(lines=None, user=None, **extra):
        user = user or market.user
        response = place(user, market.vendor, lines or [(market.cabbage, 2)], **extra)
        assert response.status_code == 201, response.json
        order_id = response.json["id"]
        pay(user, order_id)
        for step in ("accept", "prepare"):
            assert api(market.owner, "post", f"{M}/orders/{order_id}/{step}", json={}).status_code == 200
        return order_id

    return make


@pytest.fixture
def cabinet(tree):
    return add_locker(tree.estate_a)


def dispatch(api, user, order_id):
    return api(user, "post", f"{M}/orders/{order_id}/dispatch", json={})


# --- the whole flow -------------------------------------------------------------------------------------------------


def test_order_pay_dispatch_deposit_code_open_completes(market, prepared, cabinet, api, device, run_jobs, make_user):
    locker, secret = cabinet
    courier = make_user("配送员")
    add_role(market.vendor, courier, "courier")
    order_id = prepared([(market.cabbage, 2), (market.pork, 1)])  # chilled + frozen: goes to a frozen cell

    sent = dispatch(api, courier, order_id)
    assert sent.status_code == 200, sent.json
    assert (sent.json["status"], sent.json["fell_back_to_shop"]) == ("out_for_delivery", False)
    assert sent.json["locker"]["id"] == locker.public_id
    [number] = sent.json["cells"]
    assert cells_of(locker)[number].zone is StorageZone.frozen
    assert cells_of(locker)[number].state is CellState.reserved
    courier_code = sent.json["courier_code"]
    assert re.fullmatch(r"[0-9]{6}", courier_code)

    deposited = device(locker, secret, "deposit", {"order_id": order_id, "courier_code": courier_code})
    assert deposited.status_code == 200, deposited.json
    assert deposited.json == {"order_id": order_id, "cells": [number]}
    assert order_row(order_id).status is OrderStatus.ready
    assert cells_of(locker)[number].state is CellState.occupied
    # The courier code was used up.
    again = device(locker, secret, "deposit", {"order_id": order_id, "courier_code": courier_code})
    assert again.status_code == 404

    run_jobs()
    mine = api(market.user, "get", f"{M}/orders/{order_id}/locker").json
    code = mine["pickup_code"]
    assert re.fullmatch(r"[0-9]{6}", code)
    assert [c["number"] for c in mine["cells"]] == [number]
    assert mine["deadline_at"].endswith("+08:00")
    assert f"绿园生鲜：请凭取件码 {code} 到1号生鲜柜取件" in inbox_titles(api, market.user)
    # The code is kept as a hash and a ciphertext, never in plaintext.
    stored = database.session.execute(sa.text("SELECT code_hash, code_encrypted FROM marketplace_locker_codes")).all()
    assert all(code.encode() not in bytes(h) + bytes(e) for h, e in stored)
    # The vendor's staff do not see the resident's code.
    assert api(market.owner, "get", f"{M}/orders/{order_id}/locker").json["pickup_code"] is None

    opened = device(locker, secret, "open", {"code": code})
    assert opened.status_code == 200, opened.json
    assert opened.json["cells"] == [number]
    assert order_row(order_id).status is OrderStatus.completed
    assert cells_of(locker)[number].state is CellState.free
    assert cells_of(locker)[number].order_id is None
    closed = device(locker, secret, "door-closed", {"cell": number})
    assert (closed.status_code, closed.json["status"]) == (200, "active")
    assert cells_of(locker)[number].door_open is False
    # Single use.
    reused = device(locker, secret, "open", {"code": code})
    assert (reused.status_code, reused.json["code"]) == (422, "locker_code_invalid")
    steps = [s["to_status"] for s in api(market.user, "get", f"{M}/orders/{order_id}").json["steps"]]
    assert steps == ["pending_payment", "paid", "accepted", "preparing", "out_for_delivery", "ready", "completed"]
    # The vendor's dashboard counts today's delivery at this cabinet, collected.
    board = api(market.owner, "get", f"{M}/vendors/{market.vendor.public_id}/dashboard").json
    assert board["lockers_today"] == [
        {"locker_id": locker.public_id, "name": locker.name, "deposited": 1, "collected": 1}
    ]


def test_a_large_order_takes_several_cells(market, prepared, api, tree):
    locker, _secret = add_locker(tree.estate_a, [{"size": "S", "zone": "chilled", "count": 6}])
    eggs = add_product(market.vendor, "土鸡蛋", stock=50, category="蛋类", storage_zone=StorageZone.chilled)
    order_id = prepared([(eggs, 10)])  # 10 items, 4 per small cell: 3 cells
    sent = dispatch(api, market.owner, order_id)
    assert sent.json["cells"] == [1, 2, 3]
    assert {c.order_id for n, c in cells_of(locker).items() if n <= 3} == {order_row(order_id).id}


def test_no_free_cell_falls_back_to_the_shop_and_tells_the_resident(market, prepared, api, tree, run_jobs):
    add_locker(tree.estate_a, [{"size": "M", "zone": "ambient", "count": 4}])  # nothing chilled
    order_id = prepared()
    sent = dispatch(api, market.owner, order_id)
    assert sent.status_code == 200
    assert (sent.json["status"], sent.json["fulfilment"], sent.json["fell_back_to_shop"]) == ("preparing", "shop", True)
    assert sent.json["courier_code"] is None
    run_jobs()
    inbox = api(market.user, "get", "/api/v1/me/inbox").json["items"]
    assert any("改为到店自提" in item["body"] for item in inbox)
    ready = api(market.owner, "post", f"{M}/orders/{order_id}/ready", json={})
    assert ready.json["status"] == "ready"


def test_a_reservation_the_courier_never_uses_times_out(market, prepared, cabinet, api, run_jobs, device):
    locker, secret = cabinet
    order_id = prepared()
    sent = dispatch(api, market.owner, order_id).json
    run_jobs()
    assert order_row(order_id).fulfilment is Fulfilment.locker  # not due yet
    make_due("marketplace.locker_reservation:")
    with atomic():
        database.session.execute(sa.update(LockerCell).values(reserved_until=utcnow() - timedelta(seconds=1)))
    run_jobs()
    order = order_row(order_id)
    assert (order.status, order.fulfilment) == (OrderStatus.out_for_delivery, Fulfilment.shop)
    assert cells_of(locker)[sent["cells"][0]].state is CellState.free
    late = device(locker, secret, "deposit", {"order_id": order_id, "courier_code": sent["courier_code"]})
    assert late.status_code == 404
    assert api(market.owner, "post", f"{M}/orders/{order_id}/ready", json={}).json["status"] == "ready"


def test_home_delivery_is_dispatched_then_delivered(market, prepared, api):
    order_id = prepared(fulfilment="delivery")
    sent = dispatch(api, market.owner, order_id)
    assert (sent.json["status"], sent.json["locker"], sent.json["cells"]) == ("out_for_delivery", None, [])
    assert api(market.owner, "post", f"{M}/orders/{order_id}/ready", json={}).status_code == 409
    delivered = api(market.owner, "post", f"{M}/orders/{order_id}/delivered", json={})
    assert delivered.json["status"] == "delivered"
    assert api(market.owner, "post", f"{M}/orders/{order_id}/complete", json={}).json["status"] == "completed"


def test_a_shop_order_is_not_dispatched_and_a_locker_order_is_not_delivered(market, prepared, cabinet, api):
    shop = prepared(fulfilment="shop")
    assert dispatch(api, market.owner, shop).status_code == 409
    locker_order = prepared()
    dispatch(api, market.owner, locker_order)
    refused = api(market.owner, "post", f"{M}/orders/{locker_order}/delivered", json={})
    assert (refused.status_code, refused.json["code"]) == (409, "order_state_conflict")
    assert api(market.owner, "post", f"{M}/orders/{locker_order}/complete", json={}).status_code == 409


# --- deadline, retrieval, refund ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("refund_bps", "refunded"), [(10_000, 600), (5_000, 300), (0, 0)])
def test_deadline_hands_the_cells_to_the_vendor_and_refunds_per_policy(
    market, prepared, cabinet, api, device, run_jobs, refund_bps, refunded
):
    locker, secret = cabinet
    policy = api(
        market.owner,
        "put",
        f"{M}/vendors/{market.vendor.public_id}/uncollected-policy",
        json={"refund_bps": refund_bps},
    )
    assert policy.status_code == 200, policy.json
    order_id = prepared()  # 2 × 3.00
    sent = dispatch(api, market.owner, order_id).json
    device(locker, secret, "deposit", {"order_id": order_id, "courier_code": sent["courier_code"]})
    run_jobs()
    pickup = api(market.user, "get", f"{M}/orders/{order_id}/locker").json["pickup_code"]
    cell = cells_of(locker)[sent["cells"][0]]
    assert (cell.deadline_at - cell.deposited_at) == timedelta(hours=12)  # chilled
    # Reminder and deadline rows are due later; make them due now instead of waiting 12 hours.
    with atomic():
        database.session.execute(sa.update(LockerCell).values(deadline_at=utcnow() - timedelta(seconds=1)))
    make_due("marketplace.locker_deadline:")
    run_jobs()

    order = order_row(order_id)
    assert order.status is OrderStatus.uncollected
    assert cells_of(locker)[sent["cells"][0]].state is CellState.awaiting_retrieval
    assert [r.amount_fen for r in refunds_of(order_id)] == ([refunded] if refunded else [])
    assert order.refunded_fen == refunded
    # The pickup code no longer opens; the vendor sees a retrieval code, the resident does not.
    assert device(locker, secret, "open", {"code": pickup}).status_code == 422
    assert api(market.user, "get", f"{M}/orders/{order_id}/locker").json["retrieval_code"] is None
    retrieval = api(market.owner, "get", f"{M}/orders/{order_id}/locker").json["retrieval_code"]
    assert len(retrieval) == 6
    assert device(locker, secret, "open", {"code": retrieval}).status_code == 422  # not a pickup code
    taken = device(locker, secret, "retrieve", {"code": retrieval})
    assert taken.status_code == 200, taken.json
    assert cells_of(locker)[sent["cells"][0]].state is CellState.free
    # A second delivery of the deadline job changes nothing.
    with atomic():
        jobs.locker_deadline(order.id)
    assert [r.amount_fen for r in refunds_of(order_id)] == ([refunded] if refunded else [])


def test_the_resident_is_reminded_before_the_deadline(market, prepared, cabinet, api, device, run_jobs):
    locker, secret = cabinet
    order_id = prepared()
    sent = dispatch(api, market.owner, order_id).json
    device(locker, secret, "deposit", {"order_id": order_id, "courier_code": sent["courier_code"]})
    make_due("marketplace.locker_remind:")
    run_jobs()
    assert f"取件提醒：{locker.name}{sent['cells'][0]}号格" in inbox_titles(api, market.user)
    assert order_row(order_id).status is OrderStatus.ready


def test_only_the_owner_states_the_refund_policy(market, api, make_user):
    clerk = make_user("店员")
    add_role(market.vendor, clerk, "clerk")
    path = f"{M}/vendors/{market.vendor.public_id}/uncollected-policy"
    assert api(clerk, "put", path, json={"refund_bps": 10_000}).status_code == 403
    assert api(market.owner, "put", path, json={"refund_bps": 10_001}).status_code == 422
    assert api(market.owner, "put", path, json={"refund_bps": 2_500}).json == {"refund_bps": 2500, "policy": "partial"}
    # Residents read the stated policy before they order.
    assert api(market.user, "get", path).json == {"refund_bps": 2500, "policy": "partial"}


# --- devices --------------------------------------------------------------------------------------------------------


def test_unsigned_badly_signed_stale_and_replayed_requests_are_refused(cabinet, device, client):
    locker, secret = cabinet
    heartbeat = {"cells": [{"number": 1, "temperature_c": 4.0}]}
    path = f"{M}/devices/lockers/{locker.public_id}/heartbeat"
    unsigned = client.post(path, json=heartbeat)
    assert (unsigned.status_code, unsigned.json["code"]) == (401, "device_signature_missing")
    wrong_secret = device(locker, "not-the-secret", "heartbeat", heartbeat)
    assert (wrong_secret.status_code, wrong_secret.json["code"]) == (401, "device_signature_invalid")
    stale = device(locker, secret, "heartbeat", heartbeat, timestamp=int(time.time()) - 301)
    assert (stale.status_code, stale.json["code"]) == (401, "device_timestamp_stale")
    future = device(locker, secret, "heartbeat", heartbeat, timestamp=int(time.time()) + 301)
    assert future.json["code"] == "device_timestamp_stale"
    # A body changed after signing.
    body = jsonlib.dumps(heartbeat).encode()
    headers = device_headers(secret, "POST", path, body)
    tampered = client.post(path, data=body.replace(b"4.0", b"2.0"), headers=headers)
    assert tampered.json["code"] == "device_signature_invalid"
    # Signed for another cabinet.
    _other, other_secret = add_locker_like(locker)
    crossed = client.post(path, data=body, headers=device_headers(other_secret, "POST", path, body))
    assert crossed.json["code"] == "device_signature_invalid"
    # Replay: the same signed request twice.
    headers = device_headers(secret, "POST", path, body)
    first = client.post(path, data=body, headers=headers)
    assert first.status_code == 200, first.json
    replay = client.post(path, data=body, headers=headers)
    assert (replay.status_code, replay.json["code"]) == (401, "device_nonce_replayed")
    assert cells_of(locker)[1].temperature_c == 4  # the tampered and refused requests changed nothing


def add_locker_like(locker):
    from app.community.models import Estate

    estate = database.session.get(Estate, locker.estate_id)
    return add_locker(estate, [{"size": "S", "zone": "ambient", "count": 1}], name="2号柜")


def test_old_nonces_are_purged_and_unknown_cells_refused(cabinet, device):
    locker, secret = cabinet
    with atomic():
        database.session.add(
            LockerNonce(locker_id=locker.id, nonce="old-nonce-1", seen_at=utcnow() - timedelta(hours=1))
        )
        database.session.add(LockerNonce(locker_id=locker.id, nonce="new-nonce-1"))
    with atomic():
        jobs.purge_locker_nonces("slot")
    assert set(database.session.scalars(sa.select(LockerNonce.nonce))) == {"new-nonce-1"}
    unknown = device(locker, secret, "heartbeat", {"cells": [{"number": 99, "temperature_c": 3.0}]})
    assert (unknown.status_code, unknown.json["code"]) == (404, "locker_cell_not_found")
    assert device(locker, secret, "door-closed", {"cell": 99}).status_code == 404
    malformed = device(locker, secret, "open", {"code": "12ab"})
    assert malformed.status_code == 422


def test_wrong_codes_are_limited_per_cabinet(app, market, prepared, cabinet, api, device, run_jobs, monkeypatch):
    monkeypatch.setitem(app.config, "MARKETPLACE_LOCKER_WRONG_CODES", 3)
    locker, secret = cabinet
    order_id = prepared()
    sent = dispatch(api, market.owner, order_id).json
    device(locker, secret, "deposit", {"order_id": order_id, "courier_code": sent["courier_code"]})
    code = api(market.user, "get", f"{M}/orders/{order_id}/locker").json["pickup_code"]
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    remaining = [
        device(locker, secret, "open", {"code": wrong}).json["details"]["remaining_attempts"] for _ in range(3)
    ]
    assert remaining == [2, 1, 0]
    locked = device(locker, secret, "open", {"code": code})  # even the right code waits
    assert (locked.status_code, locked.json["code"]) == (429, "rate_limited")
    assert locked.json["details"]["reason"] == "locker_wrong_codes"
    assert int(locked.headers["Retry-After"]) > 0
    assert order_row(order_id).status is OrderStatus.ready
    # The window passes: codes are taken again.
    with atomic():
        database.session.execute(
            sa.update(Locker).values(wrong_codes_since=utcnow() - timedelta(seconds=901)).where(Locker.id == locker.id)
        )
    assert device(locker, secret, "open", {"code": code}).status_code == 200


# --- health ---------------------------------------------------------------------------------------------------------


def test_a_warm_chilled_cell_is_quarantined_and_its_contents_flagged(
    market, prepared, cabinet, api, device, run_jobs, staff
):
    locker, secret = cabinet
    with atomic():
        database.session.add(Resident(real_name="王老板", user_id=market.owner.id))
    order_id = prepared()
    sent = dispatch(api, market.owner, order_id).json
    device(locker, secret, "deposit", {"order_id": order_id, "courier_code": sent["courier_code"]})
    number = sent["cells"][0]
    readings = [{"number": n, "temperature_c": 4.0} for n in range(1, 9)]
    readings[number - 1]["temperature_c"] = 11.5
    assert device(locker, secret, "heartbeat", {"cells": readings}).status_code == 200
    with atomic():
        jobs.check_locker_health("2026-12-03T08:00:00+08:00")
    cells = cells_of(locker)
    assert cells[number].state is CellState.out_of_service
    assert cells[number].order_id == order_row(order_id).id  # the contents stay on record
    assert {n for n, c in cells.items() if c.state is CellState.out_of_service} == {number}
    run_jobs()
    assert f"智能柜异常：{locker.name}" in inbox_titles(api, market.user)
    assert f"{locker.name}：{number}号格停用" in inbox_titles(api, market.owner)
    # Staff see it.
    staff_view = api(staff, "get", f"{M}/lockers/{locker.public_id}").json
    assert next(c for c in staff_view["cells"] if c["number"] == number)["state"] == "out_of_service"


@pytest.fixture
def staff(tree, make_staff):
    """Staff of 幸福社区, where the cabinet stands."""
    return make_staff(tree.a)


def test_a_silent_cabinet_is_taken_out_of_service_and_restored_by_staff(cabinet, api, staff, tree):
    locker, _secret = cabinet
    never, _ = add_locker(tree.estate_b, [{"size": "S", "zone": "ambient", "count": 1}], name="未上线")
    with atomic():  # installed, never connected: not "silent", staff see it has no heartbeat
        database.session.execute(sa.update(Locker).where(Locker.id == never.id).values(last_heartbeat_at=None))
    with atomic():
        database.session.execute(
            sa.update(Locker).where(Locker.id == locker.id).values(last_heartbeat_at=utcnow() - timedelta(minutes=6))
        )
        jobs.check_locker_health("slot")
    row = database.session.get(Locker, locker.id, populate_existing=True)
    assert row.status is LockerStatus.out_of_service
    assert database.session.get(Locker, never.id, populate_existing=True).status is LockerStatus.active
    assert {c.state for c in cells_of(locker).values()} == {CellState.out_of_service}
    restored = api(staff, "post", f"{M}/lockers/{locker.public_id}/restore", json={"note": "已检修"})
    assert restored.status_code == 200, restored.json
    assert restored.json["status"] == "active"
    assert {c["state"] for c in restored.json["cells"]} == {"free"}


def test_a_fault_on_a_cell_takes_it_out_of_service(cabinet, device):
    locker, secret = cabinet
    reported = device(locker, secret, "faults", {"kind": "door_jammed", "cell": 3, "detail": "门卡住"})
    assert reported.status_code == 201, reported.json
    assert cells_of(locker)[3].state is CellState.out_of_service


def test_a_dispatch_skips_cabinets_out_of_service(market, prepared, cabinet, api):
    locker, _secret = cabinet
    with atomic():
        database.session.execute(
            sa.update(Locker).where(Locker.id == locker.id).values(status=LockerStatus.out_of_service)
        )
    sent = dispatch(api, market.owner, prepared())
    assert sent.json["fell_back_to_shop"] is True


# --- staff manage cabinets ------------------------------------------------------------------------------------------


def test_staff_install_a_cabinet_and_get_its_secret_once(api, tree, make_staff, device, staff):
    body = {
        "estate_id": tree.estate_a.public_id,
        "name": "东门生鲜柜",
        "cells": [{"size": "M", "zone": "chilled", "count": 4}, {"size": "L", "zone": "frozen", "count": 2}],
    }
    created = api(staff, "post", f"{M}/lockers", json=body)
    assert created.status_code == 201, created.json
    assert [c["number"] for c in created.json["cells"]] == [1, 2, 3, 4, 5, 6]
    assert created.json["free_cells"] == {"ambient": 0, "chilled": 4, "frozen": 2}
    secret = created.json["secret"]
    locker = database.session.scalar(sa.select(Locker).where(Locker.public_id == created.json["id"]))
    assert device(locker, secret, "heartbeat", {"cells": []}).status_code == 200
    assert "secret" not in api(staff, "get", f"{M}/lockers/{locker.public_id}").json
    assert api(staff, "post", f"{M}/lockers", json=body).json["code"] == "locker_exists"
    rotated = api(staff, "post", f"{M}/lockers/{locker.public_id}/secret").json["secret"]
    assert device(locker, secret, "heartbeat", {"cells": []}).json["code"] == "device_signature_invalid"
    assert device(locker, rotated, "heartbeat", {"cells": []}).status_code == 200
    listed = api(staff, "get", f"{M}/lockers", query_string={"estate_id": tree.estate_a.public_id}).json
    assert [item["id"] for item in listed["items"]] == [locker.public_id]
    # Staff of another community: 404; a grid worker reads but does not install (403).
    other = make_staff(tree.b)
    assert api(other, "get", f"{M}/lockers/{locker.public_id}").status_code == 404
    assert api(other, "post", f"{M}/lockers", json={**body, "name": "别处"}).status_code == 404
    assert api(other, "get", f"{M}/lockers").json["items"] == []
    grid = make_staff(tree.a, role="grid_worker")
    assert api(grid, "get", f"{M}/lockers/{locker.public_id}").status_code == 200
    assert api(grid, "post", f"{M}/lockers/{locker.public_id}/secret").status_code == 403


@pytest.mark.parametrize("who", ["staff", "vendor"])
def test_cabinet_lists_cost_the_same_statements_for_any_page_size(api, tree, count_queries, staff, market, who):
    for n in range(6):
        add_locker(tree.estate_a, [{"size": "S", "zone": "chilled", "count": 2}], name=f"柜{n}")
    user, path = (
        (staff, f"{M}/lockers") if who == "staff" else (market.owner, f"{M}/vendors/{market.vendor.public_id}/lockers")
    )
    api(user, "get", path, query_string={"limit": 1})  # warm up the account's caches
    counts = []
    for limit in (1, 5):
        with count_queries() as queries:
            page = api(user, "get", path, query_string={"limit": limit})
        assert len(page.json["items"]) == limit
        assert page.json["items"][0]["free_cells"] == {"ambient": 0, "chilled": 2, "frozen": 0}
        counts.append(len(queries))
    assert counts[0] == counts[1]


# --- who sees and touches what --------------------------------------------------------------------------------------


def test_another_vendor_cannot_touch_the_order_or_cabinets_it_does_not_serve(
    market, prepared, cabinet, api, make_user, tree
):
    locker, _secret = cabinet
    order_id = prepared()
    dispatch(api, market.owner, order_id)
    rival = make_user("赵老板")
    rival_vendor = add_vendor(rival, [tree.b], name="赵记水果")
    assert api(rival, "post", f"{M}/orders/{order_id}/dispatch", json={}).status_code == 404
    assert api(rival, "post", f"{M}/orders/{order_id}/delivered", json={}).status_code == 404
    assert api(rival, "get", f"{M}/orders/{order_id}/locker").status_code == 404
    assert api(rival, "get", f"{M}/vendors/{rival_vendor.public_id}/lockers/{locker.public_id}").status_code == 404
    assert api(rival, "get", f"{M}/vendors/{rival_vendor.public_id}/lockers").json["items"] == []
    assert api(rival, "get", f"{M}/vendors/{market.vendor.public_id}/lockers").status_code == 404
    assert api(rival, "get", f"{M}/lockers/{locker.public_id}").status_code == 404
    # A vendor serving the community sees the cabinet, but only its own orders in it.
    neighbour_vendor_owner = make_user("钱老板")
    neighbour_vendor = add_vendor(neighbour_vendor_owner, [tree.a], name="钱记")
    seen = api(neighbour_vendor_owner, "get", f"{M}/vendors/{neighbour_vendor.public_id}/lockers/{locker.public_id}")
    assert seen.status_code == 200
    assert all(c["order_id"] is None for c in seen.json["cells"])
    mine = api(market.owner, "get", f"{M}/vendors/{market.vendor.public_id}/lockers/{locker.public_id}").json
    assert [c["order_id"] for c in mine["cells"] if c["order_id"]] == [order_id]


def test_residents_see_only_their_own_or_delegated_codes(
    market, prepared, cabinet, api, device, make_resident, run_jobs
):
    locker, secret = cabinet
    # A daughter with a marketplace delegation acts for her father; a son holding only "bills" does not.
    daughter_user, daughter = make_resident("李女儿", sequence="971")
    make_delegation(daughter, market.resident, ["marketplace"])
    son_user, son = make_resident("李儿子", sequence="961")
    make_delegation(son, market.resident, ["bills"])
    neighbour_user, _neighbour = make_resident("邻居", sequence="941")
    order_id = prepared()
    sent = dispatch(api, market.owner, order_id).json
    device(locker, secret, "deposit", {"order_id": order_id, "courier_code": sent["courier_code"]})
    run_jobs()

    seen = api(daughter_user, "get", f"{M}/orders/{order_id}/locker")
    assert seen.status_code == 200
    code = seen.json["pickup_code"]
    assert code == api(market.user, "get", f"{M}/orders/{order_id}/locker").json["pickup_code"]
    assert f"绿园生鲜：请凭取件码 {code} 到1号生鲜柜取件" in inbox_titles(api, daughter_user)
    # The son is bound to his father without the marketplace scope: refused (403, issue #12); the neighbour: 404.
    refused = api(son_user, "get", f"{M}/orders/{order_id}/locker")
    assert (refused.status_code, refused.json["code"]) == (403, "delegation_denied")
    assert api(neighbour_user, "get", f"{M}/orders/{order_id}/locker").status_code == 404
    for outsider in (son_user, neighbour_user):
        assert not any(code in title for title in inbox_titles(api, outsider))
    # The vendor's staff see the order's locker but not the pickup code.
    assert api(market.owner, "get", f"{M}/orders/{order_id}/locker").json["pickup_code"] is None


def test_the_demo_puts_a_cabinet_in_every_courtyard(db):
    from app.accounts.demo import seed_identity
    from app.community.models import Estate, Region
    from marketplace.demo import seed_marketplace

    with atomic():
        seed_identity()
        seed_marketplace()
    community = database.session.scalar(sa.select(Region).where(Region.name == "幸福社区"))
    estates = set(database.session.scalars(sa.select(Estate.id).where(Estate.community_id == community.id)))
    cabinets = database.session.execute(sa.select(Locker.estate_id, Locker.id)).all()
    assert sorted(estate for estate, _ in cabinets) == sorted(estates)
    assert len(estates) >= 2
    free = database.session.scalar(
        sa.select(sa.func.count()).where(LockerCell.locker_id == cabinets[0][1], LockerCell.state == CellState.free)
    )
    assert free == 20
