"""The promised-days clock (承诺期限) of applications: counted in working days from the day after acceptance, ending
at the close of the Nth working day, across the 2026 Spring Festival, a 调休 working Saturday and a 2027 calendar
entered as overrides, with the clock paused in whole days during 补正 and 特别程序."""

from __future__ import annotations

from datetime import date

import pytest

from app import calendar
from govservice import applications, applications_staff, applications_views
from govservice.application_models import Outcome
from tests.govservice.fixtures import at
from tests.govservice.test_applications import build, uploads


@pytest.fixture
def clocked(tree, resident, staff_a, freeze):
    """Item A (5 promised working days) and ``step(day, fn)``: run ``fn`` with the clock at 10:00 that day."""
    gov = build(tree, promised_days=5)
    user, _ = resident

    def apply_on(day: date):
        freeze(at(day, 9))
        return applications.submit(
            user,
            item_id=gov.item.public_id,
            for_resident_id=None,
            form={},
            materials=uploads(user, "hukou_book", "photo"),
        )

    def on(day: date, fn, *args, **kwargs):
        freeze(at(day, 10))
        return fn(staff_a, *args, **kwargs)

    def term(application, day: date) -> dict:
        freeze(at(day, 12))
        return applications_views.view(application, staff=True)["term"]

    return gov, user, apply_on, on, term


def test_spring_festival_2026_and_the_makeup_saturday_are_counted_as_the_calendar_says(clocked):
    _gov, _user, apply_on, on, term = clocked
    application = apply_on(date(2026, 2, 12))
    on(date(2026, 2, 12), applications_staff.accept, application.public_id, note=None)  # Thursday
    # Fri 13, Sat 14 (调休 working day), then 15–23 February off, Tue 24, Wed 25, Thu 26.
    assert application.due_on == date(2026, 2, 26)
    assert term(application, date(2026, 2, 12))["remaining_workdays"] == 5
    assert term(application, date(2026, 2, 20))["remaining_workdays"] == 3  # a holiday: Tue, Wed, Thu left
    due = term(application, date(2026, 2, 26))
    assert (due["remaining_workdays"], due["overdue"], due["due_at"]) == (0, False, at(date(2026, 2, 27), 0))
    late = term(application, date(2026, 3, 2))  # Fri 27, Sat 28 (调休), Mon 2 March
    assert (late["overdue"], late["overdue_workdays"], late["overdue_days"]) == (True, 3, 4)


def test_correction_across_the_festival_pauses_the_clock_in_whole_working_days(clocked):
    _gov, user, apply_on, on, term = clocked
    application = apply_on(date(2026, 2, 12))
    on(date(2026, 2, 12), applications_staff.accept, application.public_id, note=None)
    # 补正 on Friday 13: that day is used (1 of 5); the clock stops.
    on(
        date(2026, 2, 13),
        applications_staff.request_correction,
        application.public_id,
        reason="缺户主页",
        material_codes=["hukou_book"],
    )
    paused = term(application, date(2026, 2, 24))
    assert (paused["paused"], paused["due_on"], paused["remaining_workdays"], paused["elapsed_workdays"]) == (
        True,
        None,
        4,
        1,
    )
    # Supplied on Wednesday 25: Sat 14, Tue 24 and Wed 25 were paused; four days left from Thursday 26.
    on(
        date(2026, 2, 25),
        lambda _staff: applications.supply_correction(
            user, application.public_id, materials=uploads(user, "hukou_book"), note=None
        ),
    )
    assert (application.paused_workdays, application.due_on) == (3, date(2026, 3, 2))
    assert term(application, date(2026, 2, 25))["remaining_workdays"] == 4  # Thu 26, Fri 27, Sat 28, Mon 2
    # Completed on the due day: on time, 5 working days used.
    on(date(2026, 3, 2), applications_staff.complete, application.public_id, outcome=Outcome.approved, result="准予")
    assert (application.on_time, application.elapsed_workdays) == (True, 5)


def test_completion_the_day_after_the_due_day_is_late(clocked):
    _gov, _user, apply_on, on, _term = clocked
    application = apply_on(date(2026, 3, 9))
    on(date(2026, 3, 9), applications_staff.accept, application.public_id, note=None)
    assert application.due_on == date(2026, 3, 16)
    on(date(2026, 3, 17), applications_staff.complete, application.public_id, outcome=Outcome.denied, result="不符合")
    assert (application.on_time, application.elapsed_workdays) == (False, 6)


def test_special_procedure_pauses_like_a_correction(clocked):
    _gov, _user, apply_on, on, term = clocked
    application = apply_on(date(2026, 3, 9))
    on(date(2026, 3, 9), applications_staff.accept, application.public_id, note=None)  # due Mon 16
    on(date(2026, 3, 10), applications_staff.start_special, application.public_id, reason="专家评审")
    assert term(application, date(2026, 3, 20))["remaining_workdays"] == 4
    # Ended Friday 20: Wed 11 … Fri 20 (8 working days) paused; four left from Monday 23.
    on(date(2026, 3, 20), applications_staff.end_special, application.public_id, note=None)
    assert (application.paused_workdays, application.due_on) == (8, date(2026, 3, 26))


def test_a_2027_calendar_entered_as_overrides_moves_the_deadline(clocked, make_staff):
    _gov, _user, apply_on, on, _term = clocked
    admin = make_staff(None, role="admin")
    # Without overrides 2027 counts Monday to Friday: accepted Friday 5 February, due Friday 12 February.
    first = apply_on(date(2027, 2, 5))
    on(date(2027, 2, 5), applications_staff.accept, first.public_id, note=None)
    assert first.due_on == date(2027, 2, 12)
    # The State Council's (here: invented) arrangement: 8–12 February off, Saturday 20 February a working day.
    for day in range(8, 13):
        calendar.set_override(date(2027, 2, day), is_workday=False, name="春节", actor=admin)
    calendar.set_override(date(2027, 2, 20), is_workday=True, name="春节调休上班", actor=admin)
    second = apply_on(date(2027, 2, 5))
    on(date(2027, 2, 5), applications_staff.accept, second.public_id, note=None)
    # Mon 15 … Fri 19 are the five working days.
    assert second.due_on == date(2027, 2, 19)
    # A correction from Tuesday 16 (2 used) to Monday 22 pauses Wed 17, Thu 18, Fri 19, Sat 20 (调休), Mon 22.
    on(
        date(2027, 2, 16),
        applications_staff.request_correction,
        second.public_id,
        reason="补",
        material_codes=["photo"],
    )
    on(
        date(2027, 2, 22),
        lambda _staff: applications.supply_correction(
            _user, second.public_id, materials=uploads(_user, "photo"), note=None
        ),
    )
    assert (second.paused_workdays, second.due_on) == (5, date(2027, 2, 25))
