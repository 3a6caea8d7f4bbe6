"""The desk and what happens around a booking: check-in with queue numbers, served, no-shows and the suspension they
bring, closures that cancel and notify, and reminders scheduled and cancelled with the booking."""

from datetime import date, timedelta

import sqlalchemy as sa

from app.db import atomic, utcnow
from app.extensions import db as database
from app.outbox import OutboxRow, OutboxStatus
from govservice import clock
from govservice.booking_models import Booking, BookingStatus, Suspension
from govservice.jobs import send_booking_reminder
from tests.govservice.fixtures import at, body, notices, tomorrow


def _book(api, user, setup, starts_at, item=None, window=None):
    made = api(
        user, "post", "/api/v1/govservice/bookings", json=body(item or setup.item, window or setup.window, starts_at)
    )
    assert made.status_code == 201, made.json
    return made.json["id"]


def test_check_in_gives_gap_free_numbers_per_window_and_day(setup, make_resident, staff_a, api, freeze):
    day = tomorrow()
    users = [make_resident(f"居民{n}", sequence=f"99{n}")[0] for n in range(1, 4)]
    ids = [_book(api, user, setup, at(day, 9 + n // 2, 30 * (n % 2))) for n, user in enumerate(users)]
    other_item = _book(api, users[0], setup, at(day, 11), item=setup.other, window=setup.window)

    freeze(at(day, 8, 40))
    early = api(users[2], "post", f"/api/v1/govservice/bookings/{ids[2]}/check-in")  # starts 10:00, opens 9:00
    assert (early.status_code, early.json["code"]) == (409, "check_in_not_open")
    first = api(users[0], "post", f"/api/v1/govservice/bookings/{ids[0]}/check-in")  # self check-in on site
    assert (first.status_code, first.json["queue_number"], first.json["status"]) == (200, "A001", "checked_in")
    second = api(staff_a, "post", f"/api/v1/govservice/bookings/{ids[1]}/check-in")  # at the desk
    assert second.json["queue_number"] == "A002"
    again = api(users[0], "post", f"/api/v1/govservice/bookings/{ids[0]}/check-in")
    assert again.json["queue_number"] == "A001"
    freeze(at(day, 10, 50))
    assert api(staff_a, "post", f"/api/v1/govservice/bookings/{other_item}/check-in").json["queue_number"] == "A003"

    served = api(staff_a, "post", f"/api/v1/govservice/manage/bookings/{ids[0]}/served")
    assert (served.status_code, served.json["status"]) == (200, "served")
    not_checked_in = api(staff_a, "post", f"/api/v1/govservice/manage/bookings/{ids[2]}/served")
    assert (not_checked_in.status_code, not_checked_in.json["code"]) == (409, "booking_not_active")
    waiting = api(
        staff_a,
        "get",
        f"/api/v1/govservice/manage/centres/{setup.centre.public_id}/bookings?day={day}&status=checked_in",
    )
    assert [b["queue_number"] for b in waiting.json] == ["A002", "A003"]


def test_three_no_shows_in_90_days_suspend_booking_for_30_days(setup, resident, staff_a, api, freeze):
    user, person = resident
    first_day = clock.today() + timedelta(days=1)
    for offset in (0, 20, 40):
        day = first_day + timedelta(days=offset)
        freeze(at(day - timedelta(days=1), 12))
        booking = _book(api, user, setup, at(day, 9))
        early = api(staff_a, "post", f"/api/v1/govservice/manage/bookings/{booking}/no-show")
        assert (early.status_code, early.json["code"]) == (409, "too_early_for_no_show")
        freeze(at(day, 12))
        marked = api(staff_a, "post", f"/api/v1/govservice/manage/bookings/{booking}/no-show")
        assert (marked.status_code, marked.json["status"]) == (200, "no_show")

    third = first_day + timedelta(days=40)
    suspension = database.session.scalar(sa.select(Suspension))
    assert (suspension.resident_id, suspension.starts_on, suspension.ends_on, suspension.no_shows) == (
        person.id,
        third,
        third + timedelta(days=30),
        3,
    )
    refused = api(
        user,
        "post",
        "/api/v1/govservice/bookings",
        json=body(setup.item, setup.window, at(third + timedelta(days=2), 9)),
    )
    assert (refused.status_code, refused.json["code"]) == (403, "booking_suspended")
    assert refused.json["details"]["until"] == (third + timedelta(days=30)).isoformat()

    # After 30 days the resident may book again, and the sanctioned no-shows do not count a second time.
    freeze(at(third + timedelta(days=30), 8))
    day = third + timedelta(days=31)
    booking = _book(api, user, setup, at(day, 9))
    freeze(at(day, 12))
    api(staff_a, "post", f"/api/v1/govservice/manage/bookings/{booking}/no-show")
    assert database.session.scalar(sa.select(sa.func.count()).select_from(Suspension)) == 1


def test_no_shows_spread_over_more_than_90_days_do_not_suspend(setup, resident, staff_a, api, freeze):
    user, _person = resident
    first_day = clock.today() + timedelta(days=1)
    for offset in (0, 50, 100):
        day = first_day + timedelta(days=offset)
        freeze(at(day - timedelta(days=1), 12))
        booking = _book(api, user, setup, at(day, 9))
        freeze(at(day, 12))
        api(staff_a, "post", f"/api/v1/govservice/manage/bookings/{booking}/no-show")
    assert database.session.scalar(sa.select(sa.func.count()).select_from(Suspension)) == 0


def test_staff_lift_a_suspension(setup, resident, staff_a, api):
    user, person = resident
    today = clock.today()
    with atomic():
        database.session.add(
            Suspension(
                centre_id=setup.centre.id,
                resident_id=person.id,
                starts_on=today,
                ends_on=today + timedelta(days=30),
                no_shows=3,
            )
        )
    payload = body(setup.item, setup.window, at(tomorrow(), 9))
    assert api(user, "post", "/api/v1/govservice/bookings", json=payload).status_code == 403
    listed = api(staff_a, "get", f"/api/v1/govservice/manage/centres/{setup.centre.public_id}/suspensions")
    assert [s["resident"]["name"] for s in listed.json] == ["张三"]
    lifted = api(
        staff_a,
        "post",
        f"/api/v1/govservice/manage/suspensions/{listed.json[0]['id']}/lift",
        json={"reason": "因病住院，已核实"},
    )
    assert lifted.status_code == 200
    assert lifted.json["lifted_at"]
    assert api(user, "post", "/api/v1/govservice/bookings", json=payload).status_code == 201


def test_a_closure_cancels_the_bookings_it_covers_and_notifies(setup, make_resident, staff_a, api):
    day = tomorrow()
    first_user, first = make_resident("甲", sequence="991")
    second_user, second = make_resident("乙", sequence="993")
    third_user, _third = make_resident("丙", sequence="995")
    covered = _book(api, first_user, setup, at(day, 9))
    later = _book(api, second_user, setup, at(day, 11))  # outside the closed hours
    elsewhere = _book(api, third_user, setup, at(day, 9), window=setup.window2)  # another window
    assert notices() == []

    closure = api(
        staff_a,
        "post",
        f"/api/v1/govservice/manage/centres/{setup.centre.public_id}/closures",
        json={
            "day": day.isoformat(),
            "window_id": setup.window.public_id,
            "starts_at": "09:00",
            "ends_at": "10:30",
            "reason": "系统升级",
        },
    )
    assert closure.status_code == 201, closure.json
    assert closure.json["cancelled_bookings"] == 1
    statuses = dict(database.session.execute(sa.select(Booking.public_id, Booking.status)).all())
    assert statuses == {covered: BookingStatus.cancelled, later: BookingStatus.booked, elsewhere: BookingStatus.booked}
    shown = api(first_user, "get", f"/api/v1/govservice/bookings/{covered}").json
    assert (shown["status"], shown["cancel_reason"]) == ("cancelled", "窗口停办：系统升级")
    sent = notices("govservice.booking_cancelled")
    assert [(notice.residents, notice.source) for notice in sent] == [([first.id], ("govservice_booking", covered))]
    assert sent[0].title == "预约已取消：社会保障卡申领"
    assert sent[0].body.endswith("原因：窗口停办：系统升级")

    # The closed slots are no longer offered, and booking one is refused.
    availability = api(
        second_user, "get", f"/api/v1/govservice/guides/{setup.item.public_id}/availability?from={day}&to={day}"
    ).json
    window_one = [s["starts_at"][11:16] for s in availability["days"][0]["slots"] if s["window"]["number"] == 1]
    assert window_one == ["10:30", "11:00", "11:30"]
    refused = api(second_user, "post", "/api/v1/govservice/bookings", json=body(setup.other, setup.window, at(day, 10)))
    assert (refused.status_code, refused.json["code"]) == (409, "slot_closed")

    # A whole-centre closure cancels the rest.
    whole = api(
        staff_a,
        "post",
        f"/api/v1/govservice/manage/centres/{setup.centre.public_id}/closures",
        json={"day": day.isoformat(), "reason": "台风停止办公"},
    )
    assert whole.json["cancelled_bookings"] == 2
    assert sorted(n.residents[0] for n in notices("govservice.booking_cancelled")) == sorted(
        [first.id, second.id, _third.id]
    )


def _reminders() -> list[OutboxRow]:
    return database.session.scalars(
        sa.select(OutboxRow)
        .where(OutboxRow.job == send_booking_reminder.job_name)
        .order_by(OutboxRow.run_at)
        .execution_options(populate_existing=True)
    ).all()


def _make_due() -> None:
    with atomic():
        database.session.execute(
            sa.update(OutboxRow)
            .where(OutboxRow.job == send_booking_reminder.job_name, OutboxRow.status == OutboxStatus.pending)
            .values(run_at=utcnow())
        )


def test_reminders_the_evening_before_and_an_hour_before(setup, resident, api, run_jobs):
    user, person = resident
    day = clock.today() + timedelta(days=2)
    _book(api, user, setup, at(day, 10))
    rows = _reminders()
    assert [(row.args[1], row.run_at) for row in rows] == [
        ("eve", at(day - timedelta(days=1), 18)),
        ("soon", at(day, 9)),
    ]
    assert run_jobs()["pushed"] == 0  # not due yet
    _make_due()
    run_jobs()
    assert all(row.status is OutboxStatus.done for row in _reminders())
    sent = notices("govservice.booking_reminder")
    assert [(notice.residents, notice.key.split(":")[3]) for notice in sent] == [
        ([person.id], "eve"),
        ([person.id], "soon"),
    ]
    assert "将于 " in sent[0].body
    assert "请携带有效证件按时到场" in sent[0].body


def test_a_cancelled_booking_gets_no_reminder(setup, resident, api, run_jobs):
    user, _person = resident
    booking = _book(api, user, setup, at(clock.today() + timedelta(days=2), 10))
    api(user, "post", f"/api/v1/govservice/bookings/{booking}/cancel", json={})
    _make_due()
    run_jobs()
    assert [row.status for row in _reminders()] == [OutboxStatus.done, OutboxStatus.done]
    assert notices("govservice.booking_reminder") == []


def test_a_rescheduled_booking_is_reminded_of_its_new_time_only(setup, resident, api, run_jobs):
    user, _person = resident
    day = clock.today() + timedelta(days=2)
    booking = _book(api, user, setup, at(day, 10))
    moved = api(
        user, "post", f"/api/v1/govservice/bookings/{booking}/reschedule", json={"starts_at": at(day, 11).isoformat()}
    )
    assert moved.status_code == 200
    assert len(_reminders()) == 4  # keys carry the start time: the two old rows stay and find the start moved
    _make_due()
    run_jobs()
    sent = notices("govservice.booking_reminder")
    assert sorted(notice.key.split(":")[3] for notice in sent) == ["eve", "soon"]
    assert {notice.key.split(":")[4] for notice in sent} == {str(int(at(day, 11).timestamp()))}


def test_a_booking_made_late_gets_only_the_reminders_still_ahead(setup, resident, api, freeze):
    user, _person = resident
    day = date(2026, 11, 25)
    freeze(at(day - timedelta(days=1), 20))  # after 18:00 the evening before
    _book(api, user, setup, at(day, 9))
    assert [row.args[1] for row in _reminders()] == ["soon"]


def test_a_closure_notice_for_an_elder_without_a_phone_reaches_her_daughter(
    tree, make_resident, staff_a, api, run_jobs
):
    from app.accounts.resident_models import Delegation, DelegationStatus, Relationship
    from app.push.models import InboxItem
    from tests.govservice.fixtures import build_centre

    setup = build_centre(tree.a)
    _none, mother = make_resident("王秀兰", sequence="992", account=False, community=tree.a)
    daughter_user, daughter = make_resident("王丽", sequence="994")
    with atomic():
        database.session.add(
            Delegation(
                actor_resident_id=daughter.id,
                subject_resident_id=mother.id,
                relationship=Relationship.child,
                scopes=["appointments"],
                status=DelegationStatus.active,
            )
        )
    day = tomorrow()
    made = api(
        daughter_user,
        "post",
        "/api/v1/govservice/bookings",
        json=body(setup.item, setup.window, at(day, 9), for_resident_id=mother.public_id),
    )
    assert made.status_code == 201
    api(
        staff_a,
        "post",
        f"/api/v1/govservice/manage/centres/{setup.centre.public_id}/closures",
        json={"day": day.isoformat(), "reason": "停电检修"},
    )
    run_jobs()
    inbox = database.session.scalars(sa.select(InboxItem).where(InboxItem.user_id == daughter_user.id)).all()
    assert [(item.resident_id, item.delivery.event) for item in inbox] == [(mother.id, "govservice.booking_cancelled")]
