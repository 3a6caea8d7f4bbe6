"""End of day: bookings nobody checked in for become no-shows by themselves, and count towards suspensions."""

from datetime import timedelta

import sqlalchemy as sa

from app.extensions import db as database
from govservice import clock, desk
from govservice.booking_models import Booking, BookingStatus, Suspension
from tests.govservice.fixtures import at, body


def _book(api, user, setup, starts_at):
    made = api(user, "post", "/api/v1/govservice/bookings", json=body(setup.item, setup.window, starts_at))
    assert made.status_code == 201, made.json
    return made.json["id"]


def _status(public_id: str) -> BookingStatus:
    return database.session.scalar(sa.select(Booking.status).where(Booking.public_id == public_id))


def test_the_day_closes_with_unattended_bookings_as_no_shows(setup, resident, make_resident, api, freeze):
    user, _ = resident
    other, _ = make_resident("李四", sequence="992")
    day = clock.today() + timedelta(days=1)
    freeze(at(day - timedelta(days=1), 12))
    missed = _book(api, user, setup, at(day, 9))
    came = _book(api, other, setup, at(day, 9))
    later = _book(api, other, setup, at(day + timedelta(days=1), 9))
    freeze(at(day, 9, 5))
    assert api(other, "post", f"/api/v1/govservice/bookings/{came}/check-in").status_code == 200

    freeze(at(day, 23, 50))
    assert desk.close_ended_bookings() == 1
    assert desk.close_ended_bookings() == 0  # a second run changes nothing
    assert (_status(missed), _status(came), _status(later)) == (
        BookingStatus.no_show,
        BookingStatus.checked_in,
        BookingStatus.booked,
    )


def test_three_unattended_days_suspend_like_the_desk_button(setup, resident, api, freeze):
    user, person = resident
    first = clock.today() + timedelta(days=1)
    for offset in (0, 10, 20):
        day = first + timedelta(days=offset)
        freeze(at(day - timedelta(days=1), 12))
        _book(api, user, setup, at(day, 9))
        freeze(at(day, 23, 50))
        desk.close_ended_bookings()
    suspension = database.session.scalar(sa.select(Suspension))
    assert (suspension.resident_id, suspension.no_shows) == (person.id, 3)
    assert suspension.starts_on == first + timedelta(days=20)
