"""Contention scenarios of issue #12 beside the flash sale and the appointment rush: the locker rush and the activity
sign-up rush. Each goes through the real HTTP endpoints of the running server (``bench.run.BASE``) over 32
keep-alive connections (``bench/burst.py``), checks its invariant in the database afterwards and records
``results.facts[...]`` like ``flash_sale``.

- Locker rush: residents of one courtyard order from every vendor serving it; the vendors dispatch all the orders at
  once into one new cabinet with fewer free cells than orders (cells are reserved at dispatch, the rest fall back to
  collection at the shop), then the couriers deposit every reserved order at once through the cabinet's signed device
  endpoint. Invariant: exactly as many reservations and deposits as cells, no cell given twice, every other order
  back at the shop.
- Activity rush: residents of one community sign up at once for an activity with fewer places. Invariant: exactly
  ``places`` confirmed, the rest waitlisted in queue order (queue numbers 1…n without gaps, confirmed first).
"""

from __future__ import annotations

import json
import os
import secrets
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import requests
import sqlalchemy as sa

from bench.burst import Call


def _bearer(token: str, number: int) -> dict[str, str]:
    """A resident's or vendor's request headers, each caller from its own address (as behind the reverse proxy)."""
    return {
        "Authorization": f"Bearer {token}",
        "Idempotency-Key": os.urandom(8).hex(),
        "X-Forwarded-For": f"10.201.{number // 256 % 256}.{number % 256}",
    }


def send_all(calls: list[Call], workers: int = 32) -> tuple[float, list[tuple[int, Any]]]:
    """Send every call once over ``workers`` keep-alive connections (``bench/burst.py``): (seconds from the first
    send to the last answer, [(status, JSON answer or None)] in the order of ``calls``)."""
    from bench import burst, run

    return burst.send_all(run.BASE, calls, workers)


def count_statuses(answers: list[tuple[int, Any]]) -> dict[int, int]:
    counts: dict[int, int] = {}
    for status, _body in answers:
        counts[status] = counts.get(status, 0) + 1
    return dict(sorted(counts.items()))


# --- locker rush --------------------------------------------------------------------------------------------------


def _courtyard(engine: sa.Engine, residents: int) -> tuple[int, str, int, list[int], list[int]]:
    """The first courtyard (estate) without a cabinet and with enough residents: (estate id, its public id, its
    community id, ``residents`` user ids living there, the vendors serving its community)."""
    with engine.connect() as connection:
        estate = connection.execute(
            sa.text(
                "SELECT e.id, e.public_id, e.community_id FROM community_estates e"
                " WHERE NOT EXISTS (SELECT 1 FROM marketplace_lockers l WHERE l.estate_id = e.id)"
                " AND EXISTS (SELECT 1 FROM marketplace_vendor_communities vc WHERE vc.community_id = e.community_id)"
                " ORDER BY e.id LIMIT 1"
            )
        ).one()
        users = list(
            connection.execute(
                sa.text(
                    "SELECT r.user_id FROM accounts_residents r"
                    " JOIN accounts_household_memberships m ON m.resident_id = r.id AND m.status = 'active'"
                    " JOIN community_households h ON h.id = m.household_id"
                    " JOIN community_buildings b ON b.id = h.building_id"
                    " WHERE b.estate_id = :estate AND h.community_id = :community AND r.user_id IS NOT NULL"
                    " ORDER BY r.id LIMIT :n"
                ),
                {"estate": estate.id, "community": estate.community_id, "n": residents},
            ).scalars()
        )
        vendors = list(
            connection.execute(
                sa.text(
                    "SELECT vc.vendor_id FROM marketplace_vendor_communities vc"
                    " JOIN marketplace_vendors v ON v.id = vc.vendor_id AND v.status = 'approved'"
                    " WHERE vc.community_id = :community ORDER BY vc.vendor_id"
                ),
                {"community": estate.community_id},
            ).scalars()
        )
    return estate.id, estate.public_id, estate.community_id, users, vendors


def _vendors(engine: sa.Engine, vendor_ids: list[int]) -> dict[int, dict[str, Any]]:
    """Public id, owner account and an ambient product on the shelf of each vendor."""
    with engine.connect() as connection:
        rows = connection.execute(
            sa.text(
                "SELECT v.id, v.public_id,"
                " (SELECT a.user_id FROM auth_role_assignments a WHERE a.role = 'owner' AND a.scope_kind = 'vendor'"
                "   AND a.scope_id = v.id ORDER BY a.user_id LIMIT 1) AS owner,"
                " (SELECT p.public_id FROM marketplace_products p WHERE p.vendor_id = v.id AND p.on_shelf"
                "   AND p.storage_zone = 'ambient' AND p.stock > 1000 ORDER BY p.id LIMIT 1) AS product"
                " FROM marketplace_vendors v WHERE v.id = ANY(:ids)"
            ),
            {"ids": vendor_ids},
        ).all()
    return {
        row.id: {"public_id": row.public_id, "owner": row.owner, "product": row.product}
        for row in rows
        if row.owner is not None and row.product is not None
    }


def _signed(secret: str, locker_public_id: str, action: str, body: dict[str, Any]) -> tuple[str, dict[str, str]]:
    """Path and headers of a cabinet's signed device request (``marketplace/devices.py``)."""
    from marketplace.devices import sign

    path = f"/api/v1/marketplace/devices/lockers/{locker_public_id}/{action}"
    timestamp, nonce = str(int(time.time())), secrets.token_hex(12)
    raw = json.dumps(body).encode()
    headers = {
        "X-Locker-Timestamp": timestamp,
        "X-Locker-Nonce": nonce,
        "X-Locker-Signature": sign(secret, "POST", path, "", timestamp, nonce, raw),
        "X-Forwarded-For": "10.202.0.1",  # the cabinet's own address
    }
    return path, headers


def locker_rush(results, app, engine: sa.Engine, *, orders: int = 60, cells: int = 40) -> None:
    from bench import dataset, run

    api = run.API
    _estate_id, estate_public_id, community_id, users, vendor_ids = _courtyard(engine, orders)
    vendors = _vendors(engine, vendor_ids)
    if len(users) < orders or not vendors:
        raise RuntimeError(f"courtyard has {len(users)} residents and {len(vendors)} vendors; needs {orders} and 1")
    tokens = run.issue_tokens(app, [*users, *(v["owner"] for v in vendors.values()), dataset.ADMIN_USER_ID])

    # The community's cabinet, installed as staff would (the platform admin here): the device secret comes back once.
    installed = requests.post(
        f"{run.BASE}{api}/marketplace/lockers",
        json={
            "estate_id": estate_public_id,
            "name": f"基准柜{secrets.token_hex(3)}",
            "cells": [{"size": "M", "zone": "ambient", "count": cells}],
        },
        headers=_bearer(tokens[dataset.ADMIN_USER_ID], 0),
        timeout=60,
    )
    installed.raise_for_status()
    locker_public_id, secret = installed.json()["id"], installed.json()["secret"]

    # Each resident orders one item from one of the vendors serving the courtyard (fulfilment: locker, the default).
    order_vendor = [list(vendors)[number % len(vendors)] for number in range(orders)]
    placing = [
        (
            "POST",
            f"{api}/marketplace/orders",
            _bearer(tokens[user], number),
            {
                "vendor_id": vendors[vendor]["public_id"],
                "lines": [{"product_id": vendors[vendor]["product"], "quantity": 1}],
            },
        )
        for number, (user, vendor) in enumerate(zip(users, order_vendor, strict=True))
    ]
    _seconds, placed = send_all(placing)
    if count_statuses(placed) != {201: orders}:
        raise RuntimeError(f"placing the orders answered {count_statuses(placed)}")
    order_ids = [body["id"] for _status, body in placed]
    with engine.begin() as connection:  # paid, accepted and preparing: that walk is measured elsewhere
        connection.execute(
            sa.text("UPDATE marketplace_orders SET status = 'preparing', paid_at = now() WHERE public_id = ANY(:ids)"),
            {"ids": order_ids},
        )

    # Rush 1: every vendor dispatches its orders at once; cells are reserved at dispatch.
    dispatching = [
        ("POST", f"{api}/marketplace/orders/{order}/dispatch", _bearer(tokens[vendors[vendor]["owner"]], number), {})
        for number, (order, vendor) in enumerate(zip(order_ids, order_vendor, strict=True))
    ]
    dispatch_seconds, dispatched = send_all(dispatching)
    codes = {
        body["id"]: body["courier_code"]
        for status, body in dispatched
        if status == 200 and body.get("courier_code") and not body.get("fell_back_to_shop")
    }
    fell_back = sum(1 for status, body in dispatched if status == 200 and body.get("fell_back_to_shop"))

    # Rush 2: the couriers deposit every reserved order at the cabinet at once (signed device requests).
    depositing = []
    for order, code in codes.items():
        body = {"order_id": order, "courier_code": code}
        path, headers = _signed(secret, locker_public_id, "deposit", body)
        depositing.append(("POST", path, headers, body))
    deposit_seconds, deposited = send_all(depositing)

    with engine.connect() as connection:
        locker_id = connection.scalar(
            sa.text("SELECT id FROM marketplace_lockers WHERE public_id = :id"), {"id": locker_public_id}
        )
        cell_rows = connection.execute(
            sa.text("SELECT state, order_id FROM marketplace_locker_cells WHERE locker_id = :id"), {"id": locker_id}
        ).all()
        order_rows = connection.execute(
            sa.text("SELECT o.id, o.status, o.fulfilment FROM marketplace_orders o WHERE o.public_id = ANY(:ids)"),
            {"ids": order_ids},
        ).all()
        pickup_codes = connection.scalar(
            sa.text(
                "SELECT count(*) FROM marketplace_locker_codes WHERE locker_id = :id AND kind = 'pickup'"
                " AND used_at IS NULL AND revoked_at IS NULL"
            ),
            {"id": locker_id},
        )
    occupied = [order_id for state, order_id in cell_rows if state == "occupied"]
    ready = {row.id for row in order_rows if row.status == "ready" and row.fulfilment == "locker"}
    at_shop = sum(1 for row in order_rows if row.status == "preparing" and row.fulfilment == "shop")
    deposits = sum(1 for status, _body in deposited if status == 200)
    opened = [number for status, body in deposited if status == 200 for number in body["cells"]]
    results.facts["locker_rush"] = {
        "orders": orders,
        "cells": cells,
        "vendors": len(vendors),
        "community_id": community_id,
        "dispatch_seconds": dispatch_seconds,
        "dispatch_statuses": count_statuses(dispatched),
        "reserved": len(codes),
        "fell_back": fell_back,
        "deposit_seconds": deposit_seconds,
        "deposit_statuses": count_statuses(deposited),
        "deposits": deposits,
        "seconds": dispatch_seconds + deposit_seconds,
        "occupied_cells": len(occupied),
        "held": (
            len(codes) == cells
            and fell_back == orders - cells
            and deposits == cells
            # no cell given twice: every cell holds one order, no order is in two cells, no cell opened twice
            and len(occupied) == cells == len(set(occupied)) == len(cell_rows)
            and len(opened) == len(set(opened)) == cells
            and set(occupied) == ready
            and at_shop == orders - cells
            and pickup_codes == cells
        ),
    }
    log = run.log
    log(
        f"locker rush: {orders} orders from {len(vendors)} vendors for {cells} cells: dispatch "
        f"{count_statuses(dispatched)} in {dispatch_seconds:.2f} s ({len(codes)} reserved, {fell_back} to the shop), "
        f"deposit {count_statuses(deposited)} in {deposit_seconds:.2f} s; {len(occupied)} cells occupied, "
        f"{len(ready)} orders ready, {at_shop} at the shop"
    )


# --- activity sign-up rush ----------------------------------------------------------------------------------------


def activity_rush(results, app, engine: sa.Engine, *, people: int = 500, places: int = 50) -> None:
    from bench import dataset, run

    api = run.API
    with engine.connect() as connection:
        community_id, community_public_id = connection.execute(
            sa.text(
                "SELECT c.id, c.public_id FROM community_regions c WHERE c.kind = 'community'"
                " ORDER BY (SELECT count(*) FROM community_households h JOIN accounts_household_memberships m"
                "            ON m.household_id = h.id AND m.status = 'active' WHERE h.community_id = c.id) DESC,"
                " c.id LIMIT 1"
            )
        ).one()
        users = list(
            connection.execute(
                sa.text(
                    "SELECT DISTINCT ON (r.id) r.user_id FROM accounts_residents r"
                    " JOIN accounts_household_memberships m ON m.resident_id = r.id AND m.status = 'active'"
                    " JOIN community_households h ON h.id = m.household_id"
                    " WHERE h.community_id = :community AND r.user_id IS NOT NULL AND r.user_id <> :admin"
                    " ORDER BY r.id DESC LIMIT :n"
                ),
                {"community": community_id, "admin": dataset.ADMIN_USER_ID, "n": people},
            ).scalars()
        )
    tokens = run.issue_tokens(app, [*users, dataset.ADMIN_USER_ID])
    starts = datetime.now(UTC).replace(microsecond=0) + timedelta(days=3)
    created = requests.post(
        f"{run.BASE}{api}/neighbours/manage/activities",
        json={
            "community_id": community_public_id,
            "title": "基准活动：包饺子",
            "place": "社区活动室",
            "starts_at": starts.isoformat(),
            "ends_at": (starts + timedelta(hours=2)).isoformat(),
            "capacity": places,
            "publish": True,
        },
        headers=_bearer(tokens[dataset.ADMIN_USER_ID], 0),
        timeout=60,
    )
    created.raise_for_status()
    activity = created.json()["id"]
    calls = [
        ("POST", f"{api}/neighbours/activities/{activity}/signup", _bearer(tokens[user], number), {})
        for number, user in enumerate(users)
    ]
    seconds, answers = send_all(calls)
    signed = [body for status, body in answers if status == 201]
    confirmed = sorted(body["queue_no"] for body in signed if body["status"] == "confirmed")
    waitlisted = sorted(
        (body["queue_no"], body["waitlist_position"]) for body in signed if body["status"] == "waitlisted"
    )
    with engine.connect() as connection:
        counts = connection.execute(
            sa.text(
                "SELECT confirmed_count, waitlist_count, queue_seq FROM neighbours_activities WHERE public_id = :id"
            ),
            {"id": activity},
        ).one()
        rows = connection.execute(
            sa.text(
                "SELECT s.status, s.queue_no FROM neighbours_activity_signups s"
                " JOIN neighbours_activities a ON a.id = s.activity_id WHERE a.public_id = :id ORDER BY s.queue_no"
            ),
            {"id": activity},
        ).all()
    n = len(users)
    in_queue_order = [status for status, _no in rows] == ["confirmed"] * min(places, n) + ["waitlisted"] * max(
        n - places, 0
    )
    results.facts["activity_rush"] = {
        "people": n,
        "places": places,
        "seconds": seconds,
        "statuses": count_statuses(answers),
        "confirmed": len(confirmed),
        "waitlisted": len(waitlisted),
        "held": (
            len(signed) == n
            and confirmed == list(range(1, min(places, n) + 1))
            # waitlisted in the order they took the activity's lock, each told its true position
            and waitlisted == [(places + k, k) for k in range(1, n - places + 1)]
            and [no for _status, no in rows] == list(range(1, n + 1))
            and in_queue_order
            and tuple(counts) == (min(places, n), max(n - places, 0), n)
        ),
    }
    run.log(
        f"activity rush: {n} residents for {places} places: {count_statuses(answers)} in {seconds:.2f} s, "
        f"{len(confirmed)} confirmed, {len(waitlisted)} waitlisted; activity counts {tuple(counts)}"
    )
