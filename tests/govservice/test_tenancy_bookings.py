"""Who reaches a resident's booking: a family member holding an ``appointments`` delegation reads it (as they may
cancel, move and check it in), one bound without that scope is refused with 403 ``delegation_denied``, anyone else
gets 404, as the cross-tenant matrix (issue #12) expects."""

from __future__ import annotations

import sqlalchemy as sa

from app.audit import AuditEntry
from app.extensions import db as database
from tests.community.fixtures import make_delegation
from tests.govservice.fixtures import at, body, tomorrow

BOOKINGS = "/api/v1/govservice/bookings"


def test_family_reads_a_booking_only_with_the_appointments_scope(setup, make_resident, tree, api):
    mother_user, mother = make_resident("王秀兰", sequence="971", community=tree.a)
    daughter_user, daughter = make_resident("王丽", sequence="972", community=tree.a)
    son_user, son = make_resident("王强", sequence="973", community=tree.a)
    neighbour_user, _ = make_resident("邻居", sequence="974", community=tree.a)
    make_delegation(daughter, mother, ["appointments"])
    make_delegation(son, mother, ["notices", "bills"])
    made = api(mother_user, "post", BOOKINGS, json=body(setup.item, setup.window, at(tomorrow(), 9)))
    booking = made.json["id"]

    shown = api(daughter_user, "get", f"{BOOKINGS}/{booking}")
    masked = {"id": mother.public_id, "name": "王**", "document": None}
    assert (shown.status_code, shown.json["resident"]) == (200, masked)
    read = database.session.scalars(sa.select(AuditEntry).where(AuditEntry.action == "acting_for")).all()
    assert [(e.actor_user_id, e.after["scope"]) for e in read] == [(daughter_user.id, "appointments")]

    later = {"starts_at": at(tomorrow(), 10).isoformat()}
    for method, path, payload in (
        ("get", f"{BOOKINGS}/{booking}", None),
        ("post", f"{BOOKINGS}/{booking}/cancel", {}),
        ("post", f"{BOOKINGS}/{booking}/reschedule", later),
        ("post", f"{BOOKINGS}/{booking}/check-in", None),
    ):
        kwargs = {"json": payload} if payload is not None else {}
        denied = api(son_user, method, path, **kwargs)
        assert (denied.status_code, set(denied.json)) == (403, {"code", "message", "details"}), path
        assert denied.json["details"] == {"reason": "scope_missing", "scope": "appointments"}
        hidden = api(neighbour_user, method, path, **kwargs)
        assert (hidden.status_code, set(hidden.json)) == (404, {"code", "message", "details"}), path
    assert api(mother_user, "get", f"{BOOKINGS}/{booking}").json["status"] == "booked"
