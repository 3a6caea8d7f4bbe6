"""The daily reconciliation end to end: statements downloaded from the fake gateways in their real formats,
matched with our payments and refunds, stored as reports for admins, exported as CSV."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa

from app.api import SHANGHAI
from app.extensions import db as database
from payments.gateways.models import ReconciliationReport, ReportStatus
from payments.gateways.reports import reconcile_day
from tests.payments_gateways.conftest import NOTIFY_ALIPAY, NOTIFY_WECHAT

REPORTS = "/api/v1/admin/payment-gateways/reconciliations"


@pytest.fixture
def yesterday():
    return (datetime.now(SHANGHAI) - timedelta(days=1)).replace(hour=10, minute=0, second=0, microsecond=0)


@pytest.fixture
def admin(make_user):
    return make_user("管理员", platform_roles=("admin",))


@pytest.fixture
def paid_yesterday(configured, payables, make_payee, resident, open_payment, fake_wechatpay, client, yesterday):
    """``paid_yesterday(amount)`` → out_trade_no of a WeChat Pay payment paid (and notified) yesterday."""
    payee = make_payee()

    def pay(amount_fen: int) -> str:
        payable_id = payables.add(payee, resident, amount_fen)
        body = open_payment(resident, [payable_id], "wechatpay")
        fake_wechatpay.pay(body["out_trade_no"], at=yesterday)
        headers, raw = fake_wechatpay.transaction_notification(body["out_trade_no"])
        assert client.post(NOTIFY_WECHAT, data=raw, headers=headers).status_code == 204
        return body["out_trade_no"]

    return pay


def test_one_missing_payment_one_amount_mismatch_and_one_extra_refund(
    paid_yesterday, fake_wechatpay, yesterday, client, auth_header, admin, run_jobs
):
    matched, short, missing = paid_yesterday(3250), paid_yesterday(1000), paid_yesterday(500)
    orders = fake_wechatpay.orders
    extra_refund = {
        "out_refund_no": "LR_NOT_OURS_0001",
        "refund_id": "503000001",
        "status": "SUCCESS",
        "success_time": yesterday.isoformat(),
        "amount": {"refund": 300},
    }
    day = yesterday.date().isoformat()
    fake_wechatpay.bills[day] = fake_wechatpay.bill_text(
        [
            fake_wechatpay.bill_row(orders[matched]),
            fake_wechatpay.bill_row({**orders[short], "amount": {"total": 990}}),  # the gateway says 9.90, we 10.00
            fake_wechatpay.bill_refund_row(orders[matched], extra_refund),  # a refund we never made
            # `missing` is not in the statement at all
        ]
    )

    response = client.post(REPORTS, json={"bill_date": day}, headers=auth_header(admin))
    assert response.status_code == 202
    run_jobs()

    listed = client.get(REPORTS, query_string={"bill_date": day}, headers=auth_header(admin)).json
    (report,) = listed
    assert (report["gateway"], report["status"], report["lines"], report["matched"]) == (
        "wechatpay",
        "mismatched",
        3,
        1,
    )
    assert [(m["problem"], m["kind"], m["key"]) for m in report["mismatches"]] == [
        ("amount_differs", "payment", short),
        ("missing_here", "refund", "LR_NOT_OURS_0001"),
        ("missing_there", "payment", missing),
    ]
    assert report["mismatches"][0]["ours_amount_fen"] == 1000
    assert report["mismatches"][0]["theirs_amount_fen"] == 990

    export = client.get(f"{REPORTS}/export", query_string={"bill_date": day}, headers=auth_header(admin))
    assert export.status_code == 200
    assert export.mimetype == "text/csv"
    lines = export.get_data(as_text=True).lstrip("\ufeff").splitlines()
    assert len(lines) == 4
    assert lines[0].startswith("gateway,bill_date,merchant,problem")
    assert client.get(f"{REPORTS}/{report['id']}", headers=auth_header(admin)).json["id"] == report["id"]


def test_a_clean_day_matches_and_running_it_again_replaces_the_report(paid_yesterday, yesterday):
    paid_yesterday(3250)
    first = reconcile_day(yesterday.date())
    again = reconcile_day(yesterday.date())
    assert first == again
    report = database.session.get(ReconciliationReport, first[0], populate_existing=True)
    assert report.status is ReportStatus.matched
    assert report.mismatches == []


def test_a_statement_that_cannot_be_parsed_is_a_failed_report(configured, db, fake_wechatpay, yesterday):
    fake_wechatpay.bills[yesterday.date().isoformat()] = "not,a,statement\r\n"
    (report_id,) = reconcile_day(yesterday.date())
    report = database.session.get(ReconciliationReport, report_id)
    assert report.status is ReportStatus.failed
    assert "lacks columns" in report.error


def test_alipay_statements_are_reconciled_per_seller(
    configured, payables, make_payee, resident, open_payment, fake_alipay, client
):
    merchant = fake_alipay.add_merchant()
    payee = make_payee(sub_mchid=None, alipay_token=merchant.app_auth_token)
    body = open_payment(resident, [payables.add(payee, resident, 3250)], "alipay")
    fake_alipay.accept_order_string(body["pay_params"]["order_string"])
    fake_alipay.pay(body["out_trade_no"])
    assert (
        client.post(NOTIFY_ALIPAY, data=fake_alipay.notification(body["out_trade_no"])).get_data(as_text=True)
        == "success"
    )
    today = datetime.now(SHANGHAI).date()  # the fake stamps payments now: reconcile today's statement

    report_ids = reconcile_day(today)

    reports = database.session.scalars(
        sa.select(ReconciliationReport).where(ReconciliationReport.id.in_(report_ids))
    ).all()
    alipay = [r for r in reports if r.gateway == "alipay"]
    assert [(r.merchant, r.status, r.lines, r.matched) for r in alipay] == [
        (merchant.seller_id, ReportStatus.matched, 1, 1)
    ]


def test_reports_are_for_admins_only(db, client, make_user, auth_header):
    response = client.get(REPORTS, headers=auth_header(make_user("居民")))
    assert response.status_code == 403
