"""Races on committed data with real threads released together: capacity, the per-person rule, queue numbers."""

import itertools
import threading
from datetime import timedelta

import sqlalchemy as sa

from app.accounts.models import User
from app.accounts.resident_models import Resident
from app.db import atomic
from app.errors import APIError
from app.extensions import db as database
from govservice import bookings, clock, desk
from govservice.booking_models import Booking, BookingStatus, BookingVia, Slot
from tests.community.fixtures import build_tree
from tests.conftest import race
from tests.govservice.fixtures import at, build_centre


def _people(count: int) -> list[int]:
    """``count`` accounts, each with a resident; their user ids."""
    with atomic():
        users = [User(display_name=f"居民{n}") for n in range(count)]
        database.session.add_all(users)
        database.session.flush()
        database.session.add_all(Resident(real_name=f"居民{n}", user_id=user.id) for n, user in enumerate(users))
    return [user.id for user in users]


def _attempt(fn) -> str:
    try:
        fn()
    except APIError as error:
        return error.code
    return "ok"


def test_fifty_concurrent_bookings_of_a_slot_for_five_make_exactly_five(app, committed_db):
    """Capacity 5, 50 residents booking the same slot at once (about 3× the connection pool).

    The guard is one statement, ``INSERT … ON CONFLICT DO UPDATE SET booked = booked + 1 WHERE booked < capacity``
    (``bookings._take_place``): PostgreSQL locks the slot row and re-checks the WHERE clause against the row as the
    previous booking committed it. Were it read-then-write (SELECT booked, compare in Python, then UPDATE), threads
    released together would all read a count below 5 before any of them committed, and more than 5 would be booked:
    this test then fails (tried: with the guard replaced by a SELECT and an UPDATE, 46 of the 50 were booked).
    """
    tree = build_tree()
    setup = build_centre(tree.a, capacity=5)
    user_ids = _people(50)
    starts_at = at(clock.today() + timedelta(days=1), 9)
    queue = iter(user_ids)
    lock = threading.Lock()

    def book():
        with lock:
            user_id = next(queue)
        user = database.session.get(User, user_id)
        return _attempt(
            lambda: bookings.book(
                user, item_id=setup.item.public_id, window_id=setup.window.public_id, starts_at=starts_at
            )
        )

    results = race(app, 50, book)
    assert sorted(results).count("ok") == 5
    assert set(results) == {"ok", "slot_full"}
    assert database.session.execute(sa.select(Slot.capacity, Slot.booked)).one() == (5, 5)
    assert database.session.scalar(sa.select(sa.func.count()).select_from(Booking)) == 5


def test_one_person_booking_one_item_in_ten_slots_at_once_gets_one(app, committed_db):
    tree = build_tree()
    setup = build_centre(tree.a)
    (user_id,) = _people(1)
    day = clock.today() + timedelta(days=1)
    starts = iter(at(day, 9) + timedelta(minutes=30 * n) for n in itertools.count())
    lock = threading.Lock()

    def book():
        with lock:
            starts_at = next(starts)
        window = setup.window if starts_at.minute == 0 else setup.window2
        user = database.session.get(User, user_id)
        return _attempt(
            lambda: bookings.book(user, item_id=setup.item.public_id, window_id=window.public_id, starts_at=starts_at)
        )

    results = race(app, 6, book)  # the six slots of 9:00–12:00
    assert sorted(results) == ["already_booked_that_day"] * 5 + ["ok"]
    assert database.session.scalar(sa.select(sa.func.sum(Slot.booked))) == 1


def test_concurrent_check_ins_get_gap_free_queue_numbers(app, committed_db, make_user):
    tree = build_tree()
    setup = build_centre(tree.a)
    staff = make_user("窗口人员")
    from app.auth.models import RoleAssignment

    with atomic():
        database.session.add(RoleAssignment(user_id=staff.id, role="staff", scope_kind="community", scope_id=tree.a.id))
    today = clock.today()
    user_ids = _people(20)
    with atomic():
        slot = Slot(
            window_id=setup.window.id,
            day=today,
            starts_at=at(today, 23),
            ends_at=at(today, 23, 30),
            capacity=20,
            booked=20,
        )
        database.session.add(slot)
        database.session.flush()
        residents = database.session.scalars(sa.select(Resident.id).where(Resident.user_id.in_(user_ids))).all()
        rows = [
            Booking(
                centre_id=setup.centre.id,
                window_id=setup.window.id,
                slot_id=slot.id,
                item_id=setup.item.id,
                resident_id=resident_id,
                via=BookingVia.own,
                day=today,
                starts_at=slot.starts_at,
                ends_at=slot.ends_at,
            )
            for resident_id in residents
        ]
        database.session.add_all(rows)
    queue = iter([row.public_id for row in rows])
    lock = threading.Lock()

    def check_in():
        with lock:
            public_id = next(queue)
        return desk.check_in(database.session.get(User, staff.id), public_id)["queue_number"]

    numbers = race(app, 20, check_in)
    assert sorted(numbers) == [f"A{n:03d}" for n in range(1, 21)]
    assert set(database.session.scalars(sa.select(Booking.status))) == {BookingStatus.checked_in}
