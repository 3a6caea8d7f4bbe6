"""Races on committed data with real threads: the last departments of a parallel routing deciding at once make
exactly one 办结, and the same department decided twice at once is decided once."""

from __future__ import annotations

import threading

import sqlalchemy as sa

from app.accounts.models import User
from app.db import atomic
from app.errors import APIError
from app.extensions import db as database
from govservice import applications, applications_staff
from govservice.application_models import Application, ApplicationEvent, ApplicationTask, Outcome, RoutingMode
from tests.community.fixtures import build_tree
from tests.conftest import race
from tests.govservice.test_applications import build, handler_of, uploads


def _dispatched(make_user, make_resident):
    """An application of item A routed in parallel to 社保所 and 民政科, dispatched; with the street's staff."""
    from app.auth.models import RoleAssignment

    tree = build_tree()
    gov = build(tree)
    user, _ = make_resident("张三", community=tree.a)
    staff = make_user("街道工作人员")
    with atomic():
        database.session.add(
            RoleAssignment(user_id=staff.id, role="staff", scope_kind="community", scope_id=tree.street.id)
        )
    applications_staff.set_routing(
        staff, gov.item.public_id, mode=RoutingMode.parallel, department_ids=[gov.d1.public_id, gov.d2.public_id]
    )
    application = applications.submit(
        user, item_id=gov.item.public_id, for_resident_id=None, form={}, materials=uploads(user, "hukou_book", "photo")
    )
    applications_staff.accept(staff, application.public_id, note=None)
    applications_staff.dispatch(staff, application.public_id, note=None)
    return gov, application


def _decide(user_id: int, application_id: str, department_id: str) -> str:
    user = database.session.get(User, user_id)
    try:
        applications_staff.decide_task(
            user, application_id, department_id, outcome=Outcome.approved, result=f"同意（{user.display_name}）"
        )
    except APIError as error:
        return error.code
    return "ok"


def _completions(application: Application) -> int:
    return database.session.scalar(
        sa.select(sa.func.count()).where(
            ApplicationEvent.application_id == application.id, ApplicationEvent.action == "complete"
        )
    )


def test_the_last_two_parallel_departments_approving_at_once_complete_it_once(
    app, committed_db, make_user, make_resident
):
    """Both departments approve in the same instant. Each decision locks the application row (``FOR UPDATE``) and
    reads the other department's part after the lock: the second to commit sees both approved and completes it.
    With read-then-write and no lock, each would see the other's part still active and neither would complete it
    (or, reading late, both would)."""
    gov, application = _dispatched(make_user, make_resident)
    handlers = [handler_of(make_user, gov.d1).id, handler_of(make_user, gov.d2).id]
    departments = {handlers[0]: gov.d1.public_id, handlers[1]: gov.d2.public_id}
    queue = iter(handlers * 5)
    lock = threading.Lock()

    def go():
        with lock:
            handler = next(queue)
        return _decide(handler, application.public_id, departments[handler])

    results = race(app, 2, go)
    assert sorted(results) == ["ok", "ok"]
    database.session.expire_all()
    assert database.session.get(Application, application.id).status.value == "completed"
    assert _completions(application) == 1


def test_many_handlers_deciding_the_last_department_at_once_make_one_completion(
    app, committed_db, make_user, make_resident
):
    gov, application = _dispatched(make_user, make_resident)
    first = handler_of(make_user, gov.d1)
    assert _decide(first.id, application.public_id, gov.d1.public_id) == "ok"
    handlers = [handler_of(make_user, gov.d2, name=f"经办{n}").id for n in range(12)]
    queue, lock = iter(handlers), threading.Lock()

    def go():
        with lock:
            handler = next(queue)
        return _decide(handler, application.public_id, gov.d2.public_id)

    results = race(app, len(handlers), go)
    # The winner completes it; the others, serialised behind its lock, find it 办结 already.
    assert sorted(results) == ["invalid_transition"] * 11 + ["ok"]
    database.session.expire_all()
    assert _completions(application) == 1
    decided = database.session.scalars(
        sa.select(ApplicationTask.decided_by_user_id).where(ApplicationTask.application_id == application.id)
    ).all()
    assert len(set(decided)) == 2
