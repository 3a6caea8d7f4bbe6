"""Monthly subsidy claims per provider for the street office: delivered visits only, amounts per elder against
hand-computed figures, JSON and CSV, staff of the region only, a constant number of statements."""

import csv
import io
from datetime import date

import pytest
import sqlalchemy as sa

from app.accounts.resident_models import HukouStatus
from app.db import atomic
from app.extensions import db as database
from eldercare import subsidies
from tests.eldercare.fixtures import E, add_rule, tag
from tests.eldercare.test_visits import check_in, check_out, pay, place, skilled, stored


def deliver(api, care, order, confirmer) -> None:
    if order["copay_fen"]:
        pay(api, confirmer, order["id"])
    assert api(care.admin, "post", f"{E}/orders/{order['id']}/accept", json={}).status_code == 200
    assigned = api(
        care.admin, "post", f"{E}/orders/{order['id']}/assign", json={"caregiver_id": care.caregiver.public_id}
    )
    assert assigned.status_code == 200, assigned.json
    assert check_in(api, care, order["id"]).status_code == 200
    assert check_out(api, care, order["id"]).status_code == 200
    assert api(confirmer, "post", f"{E}/orders/{order['id']}/confirm", json={"rating": 5}).status_code == 200


@pytest.fixture
def month(api, care, make_resident, join) -> str:
    """王秀兰 (10 % copay, 5000 a month): a cancelled order, two delivered (subsidy 2700 + 2300, copay 300 + 700), one
    checked out but not confirmed; 赵桂芝 (低保, 0 % copay): one delivered (subsidy 3000). Expected, by hand:
    王秀兰 2 visits, 6000 / 5000 / 1000; 赵桂芝 1 visit, 3000 / 3000 / 0; totals 2 elders, 3 visits, 9000 / 8000 / 1000.
    """
    skilled(api, care)
    add_rule("低保高龄", priority=10, copay_bps=0, quota=20000, tag_code="dibao")
    other_user, other = make_resident("赵桂芝", born=date(1940, 1, 9), sequence="987")
    with atomic():
        other.hukou_status = HukouStatus.local
        database.session.add(other)
    join(other, care.tree.rooms_a["201"], role="head")
    tag(other, "dibao", care.tree.a)

    cancelled = place(api, care)
    assert api(care.daughter_user, "post", f"{E}/orders/{cancelled['id']}/cancel", json={}).status_code == 200
    first, second = place(api, care), place(api, care)
    assert (first["subsidy_fen"], second["subsidy_fen"]) == (2700, 2300)
    deliver(api, care, first, care.daughter_user)
    deliver(api, care, second, care.daughter_user)
    pending = place(api, care)
    pay(api, care.daughter_user, pending["id"])
    api(care.admin, "post", f"{E}/orders/{pending['id']}/accept", json={})
    api(care.admin, "post", f"{E}/orders/{pending['id']}/assign", json={"caregiver_id": care.caregiver.public_id})
    check_in(api, care, pending["id"])
    check_out(api, care, pending["id"])  # serviced, not confirmed: not claimed yet

    theirs = place(api, care, elder=other, user=other_user)
    assert (theirs["subsidy_fen"], theirs["copay_fen"]) == (3000, 0)
    deliver(api, care, theirs, other_user)
    return f"{subsidies.month_of(stored(first['id']).scheduled_at):%Y-%m}"


def test_claims_show_delivered_visits_and_amounts_per_elder(api, care, make_staff, month):
    staff = make_staff(care.tree.a)
    report = api(staff, "get", f"{E}/providers/{care.provider.public_id}/claims", query_string={"month": month})
    assert report.status_code == 200, report.json
    rows = [
        (r["elder_name"], r["visits"], r["price_fen"], r["subsidy_fen"], r["copay_fen"]) for r in report.json["rows"]
    ]
    assert rows == [("王秀兰", 2, 6000, 5000, 1000), ("赵桂芝", 1, 3000, 3000, 0)]
    assert report.json["totals"] == {
        "elders": 2,
        "visits": 3,
        "price_fen": 9000,
        "subsidy_fen": 8000,
        "copay_fen": 1000,
    }
    assert report.json["rows"][0]["community"] == "幸福社区"
    assert report.json["month"] == month


def test_claims_csv_has_the_same_figures_in_yuan_and_a_totals_row(api, care, make_staff, month):
    from app.audit import AuditEntry

    street_staff = make_staff(care.tree.street)
    answer = api(
        street_staff, "get", f"{E}/providers/{care.provider.public_id}/claims/export", query_string={"month": month}
    )
    assert answer.status_code == 200
    assert answer.mimetype == "text/csv"
    assert f"subsidy-claims-{month}.csv" in answer.headers["Content-Disposition"]
    text = answer.data.decode("utf-8")
    assert text.startswith("\ufeff")
    lines = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    assert lines[0] == ["社区", "老人姓名", "居民编号", "服务次数", "服务金额（元）", "补贴申领（元）", "自付（元）"]
    assert [line[:2] + line[3:] for line in lines[1:]] == [
        ["幸福社区", "王秀兰", "2", "60.00", "50.00", "10.00"],
        ["幸福社区", "赵桂芝", "1", "30.00", "30.00", "0.00"],
        ["合计", "2人", "3", "90.00", "80.00", "10.00"],
    ]
    logged = database.session.scalar(sa.select(AuditEntry).where(AuditEntry.action == "eldercare.claims.export"))
    assert logged is not None


def test_claims_are_for_staff_of_the_region_only(api, care, make_staff):
    path = f"{E}/providers/{care.provider.public_id}/claims"
    month = {"month": "2026-12"}
    assert api(make_staff(care.tree.a), "get", path, query_string=month).status_code == 200
    assert api(make_staff(care.tree.b), "get", path, query_string=month).status_code == 404  # not served there
    assert api(make_staff(care.tree.c), "get", path, query_string=month).status_code == 404
    refused = api(care.admin, "get", path, query_string=month)
    assert refused.status_code == 403
    # A resident with no tie to the provider: outside every scope of theirs, so 404 (issue #12), not 403.
    assert api(care.daughter_user, "get", f"{path}/export", query_string=month).status_code == 404
    bad = api(make_staff(care.tree.a), "get", path, query_string={"month": "2026-13"})
    assert bad.status_code == 422


def test_claims_report_statement_count_does_not_grow_with_the_rows(api, care, make_staff, count_queries, month):
    staff = make_staff(care.tree.a)
    path = f"{E}/providers/{care.provider.public_id}/claims"

    def statements(query_month: str) -> tuple[int, int]:
        with count_queries() as queries:
            answer = api(staff, "get", path, query_string={"month": query_month})
        return len(answer.json["rows"]), len(queries)

    empty_rows, empty_statements = statements("2020-01")
    full_rows, full_statements = statements(month)
    assert (empty_rows, full_rows) == (0, 2)
    assert empty_statements == full_statements
