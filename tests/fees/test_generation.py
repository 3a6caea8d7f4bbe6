"""Bill generation: one job per run, set-based, idempotent (twice, or two jobs at once), active households only."""

from datetime import date

import sqlalchemy as sa

from app.accounts.resident_models import HouseholdMembership, MembershipStatus
from app.db import atomic
from app.extensions import db as database
from fees import billing
from fees.models import Bill, BillingRun
from tests.conftest import race
from tests.fees.conftest import add_item, add_payee, bills_of, generate, move_out

NOV = date(2026, 11, 1)
BILLS = "/api/v1/fees/estates/{}/billing-runs"


def count_bills(**where) -> int:
    query = sa.select(sa.func.count()).select_from(Bill)
    for name, value in where.items():
        query = query.where(getattr(Bill, name) == value)
    return database.session.scalar(query)


def test_only_households_with_an_active_membership_are_billed(place, person, make_resident, join):
    rooms = place.rooms
    person(rooms["101"])
    _user, leaver = make_resident("搬走的人", sequence="555")
    join(leaver, rooms["102"], "tenant")
    move_out(leaver, rooms["102"])
    _user, applicant = make_resident("申请人", sequence="556")
    join(applicant, rooms["201"], "family", status="pending")
    stats = generate(place.estate, NOV)
    assert len(bills_of(rooms["101"])) == 1
    assert bills_of(rooms["102"]) == bills_of(rooms["201"]) == []
    assert stats[place.item.public_id]["created"] == 1
    assert stats[place.item.public_id]["billable"] == 1


def test_a_household_without_a_floor_area_is_left_out_of_per_area_items(place, person):
    room = place.rooms["101"]
    person(room)
    with atomic():
        room.floor_area_dm2 = None
    stats = generate(place.estate, NOV)
    assert bills_of(room) == []
    assert stats[place.item.public_id] == {
        "name": "物业费",
        "period": "2026-11-01",
        "created": 0,
        "billable": 1,
        "missing": 1,
    }


def test_running_again_bills_only_the_household_that_moved_in_since(place, person):
    person(place.rooms["101"])
    assert generate(place.estate, NOV)[place.item.public_id]["created"] == 1
    assert generate(place.estate, NOV)[place.item.public_id]["created"] == 0
    person(place.rooms["102"], "新住户")
    assert generate(place.estate, NOV)[place.item.public_id]["created"] == 1
    assert count_bills(item_id=place.item.id) == 2


def test_a_cancelled_bill_is_not_issued_again(place, person, make_staff):
    person(place.rooms["101"])
    generate(place.estate, NOV)
    [bill] = bills_of(place.rooms["101"])
    billing.adjust_bill(make_staff(place.tree.a), bill.public_id, kind="cancel", reason="误出账单")
    generate(place.estate, NOV)
    assert [b.status.value for b in bills_of(place.rooms["101"])] == ["cancelled"]


def test_inactive_and_one_off_items_are_not_generated(place, person):
    person(place.rooms["101"])
    add_item(place.estate, place.payee, "停用项目", is_active=False)
    add_item(place.estate, place.payee, "维修分摊", cycle="one_off")
    stats = generate(place.estate, NOV)
    assert list(stats) == [place.item.public_id]


def test_staff_request_a_run_and_one_job_bills_the_estate(place, person, make_staff, api, run_jobs):
    person(place.rooms["101"])
    person(place.rooms["102"], "李四")
    staff = make_staff(place.tree.a)
    response = api(staff, "post", BILLS.format(place.estate.public_id), json={"period": "2026-11"})
    assert response.status_code == 202, response.json
    assert (response.json["status"], response.json["period"]) == ("queued", "2026-11")
    run_jobs()
    run = api(staff, "get", f"/api/v1/fees/billing-runs/{response.json['id']}").json
    assert run["status"] == "done"
    assert run["stats"][place.item.public_id]["created"] == 2
    assert count_bills(item_id=place.item.id) == 2


def test_staff_of_another_community_get_404_and_grid_workers_403(place, make_staff, api):
    path = BILLS.format(place.estate.public_id)
    assert api(make_staff(place.tree.b), "post", path, json={"period": "2026-11"}).status_code == 404
    assert api(make_staff(place.tree.a, "grid_worker"), "post", path, json={"period": "2026-11"}).status_code == 403
    assert api(make_staff(place.tree.street), "post", path, json={"period": "2026-11"}).status_code == 202


def test_a_malformed_period_is_refused(place, make_staff, api):
    response = api(make_staff(place.tree.a), "post", BILLS.format(place.estate.public_id), json={"period": "2026-13"})
    assert (response.status_code, response.json["code"]) == (422, "validation_failed")


# --- a thousand households, committed ---------------------------------------------------------------------------


def _thousand_households(estate, community_id: int) -> None:
    """1,000 households in 10 buildings, each with an active member (set-based inserts)."""
    statements = [
        "INSERT INTO community_buildings (public_id, estate_id, community_id, name, created_at) "
        "SELECT 'b' || g || left(md5(random()::text), 16), :estate, :community, (g + 10) || '号楼', now() "
        "FROM generate_series(1, 10) g",
        "INSERT INTO community_households "
        "(public_id, building_id, community_id, room, floor, floor_area_dm2, created_at) "
        "SELECT 'h' || b.id || '-' || r, b.id, :community, r::text, 1, 6000 + r, now() "
        "FROM community_buildings b, generate_series(1, 100) r WHERE b.estate_id = :estate AND b.name LIKE '%号楼' "
        "AND b.name <> '1号楼'",
        "INSERT INTO accounts_residents (public_id, real_name, verification_status, created_at) "
        "SELECT 'r' || h.id, '住户' || h.id, 'unverified', now() FROM community_households h "
        "JOIN community_buildings b ON b.id = h.building_id WHERE b.estate_id = :estate AND b.name <> '1号楼'",
        "INSERT INTO accounts_household_memberships (public_id, household_id, resident_id, role, status, starts_on, "
        "created_at) SELECT 'm' || h.id, h.id, r.id, 'head', 'active', DATE '2020-01-01', now() "
        "FROM community_households h JOIN accounts_residents r ON r.public_id = 'r' || h.id",
    ]
    with atomic():
        for statement in statements:
            database.session.execute(sa.text(statement), {"estate": estate.id, "community": community_id})


def _committed_place():
    from tests.community.fixtures import build_tree

    tree = build_tree()
    payee = add_payee()
    item = add_item(tree.estate_a, payee, rate=15000)
    fixed = add_item(tree.estate_a, payee, "垃圾处理费", kind="garbage", formula="fixed", rate=80000)
    _thousand_households(tree.estate_a, tree.a.id)
    return tree, item, fixed


def test_a_thousand_households_are_billed_by_one_job_and_again_by_a_second_without_duplicates(
    committed_db, make_staff, run_jobs, count_queries
):
    tree, item, fixed = _committed_place()
    staff = make_staff(tree.a)
    first = billing.request_run(staff, tree.estate_a.public_id, NOV)
    with count_queries() as queries:
        run_jobs()
    # One job, set-based: a fixed number of statements, not one per household.
    assert len(queries) < 60, len(queries)
    assert count_bills(item_id=item.id) == 1000
    assert count_bills(item_id=fixed.id) == 1000
    # 60.01 m² … 61.00 m² × 1.50 元: 9001.5 → 9002 fen (half-up) … 9150
    amounts = database.session.execute(
        sa.select(sa.func.min(Bill.amount_fen), sa.func.max(Bill.amount_fen)).where(Bill.item_id == item.id)
    ).one()
    assert tuple(amounts) == (9002, 9150)

    second = billing.request_run(staff, tree.estate_a.public_id, NOV)
    run_jobs()
    assert count_bills(item_id=item.id) == 1000
    runs = {
        run.id: run.stats
        for run in database.session.scalars(
            sa.select(BillingRun)
            .where(BillingRun.id.in_([first.id, second.id]))
            .execution_options(populate_existing=True)
        )
    }
    assert runs[first.id][item.public_id]["created"] == 1000
    assert runs[second.id][item.public_id]["created"] == 0
    # Running the same job (same outbox row) again does nothing either: the run is done.
    with atomic():
        billing.generate_bills(first.id)
    assert count_bills() == 2000


def test_two_runs_at_once_make_no_duplicates(committed_db, app, make_staff):
    tree, item, fixed = _committed_place()
    staff = make_staff(tree.a)
    runs = [billing.request_run(staff, tree.estate_a.public_id, NOV).id for _ in range(4)]
    pending = iter(runs)

    def one_job():
        run_id = next(pending)
        with atomic():
            billing.generate_bills(run_id)
        return run_id

    race(app, len(runs), one_job)
    assert count_bills(item_id=item.id) == 1000
    assert count_bills(item_id=fixed.id) == 1000
    created = database.session.scalars(sa.select(BillingRun.stats).where(BillingRun.id.in_(runs))).all()
    # Every bill was made by exactly one of the racing jobs.
    assert sum(stats[item.public_id]["created"] for stats in created) == 1000
    assert sum(stats[fixed.public_id]["created"] for stats in created) == 1000
    # and the households of an ended membership drop out of the next month
    with atomic():
        database.session.execute(
            sa.update(HouseholdMembership)
            .where(HouseholdMembership.public_id.like("m%"), HouseholdMembership.id % 2 == 0)
            .values(status=MembershipStatus.ended, ends_on=date(2026, 11, 30))
        )
    with atomic():
        billing.generate(tree.estate_a.id, date(2026, 12, 1))
    assert count_bills(item_id=item.id, period=date(2026, 12, 1)) == 500
