"""Daily reconciliation (对账): fetch each statement, load our side of the day, store the report; list and export."""

from __future__ import annotations

import logging
from datetime import date, datetime, time, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert

from app.api import SHANGHAI
from app.db import atomic, utcnow
from app.extensions import db
from payments.gateways.channels import ALIPAY_CHANNELS, WECHAT_CHANNELS, alipay_gateway, wechatpay_gateway
from payments.gateways.common import GatewayError
from payments.gateways.errors import ReportNotFound
from payments.gateways.models import AlipaySeller, ReconciliationReport, ReportStatus
from payments.gateways.reconciliation import (
    Record,
    StatementError,
    StatementLine,
    mismatches_csv,
    parse_alipay_trade_bill,
    parse_wechat_trade_bill,
    reconcile,
)
from payments.models import Payee, Payment, PaymentStatus, Refund

log = logging.getLogger(__name__)


def _day_bounds(bill_date: date) -> tuple[datetime, datetime]:
    start = datetime.combine(bill_date, time(0), tzinfo=SHANGHAI)
    return start, start + timedelta(days=1)


def _payment_record(payment: Payment) -> Record:
    paid = payment.status in (PaymentStatus.paid, PaymentStatus.paid_unapplied)
    return Record(
        "payment",
        payment.out_trade_no,
        payment.paid_fen if paid else payment.amount_fen,
        "paid" if paid else payment.status.value,
        payment.out_trade_no,
    )


def _refund_record(refund: Refund, out_trade_no: str) -> Record:
    return Record("refund", refund.out_refund_no, refund.amount_fen, refund.status.value, out_trade_no)


def our_records(bill_date: date, channels, *, payee_id: int | None = None) -> list[Record]:
    """Our payments paid and refunds succeeded on the day (Asia/Shanghai) through these channels."""
    start, end = _day_bounds(bill_date)
    where = [Payment.channel.in_(channels)]
    if payee_id is not None:
        where.append(Payment.payee_id == payee_id)
    payments = db.session.scalars(
        sa.select(Payment).where(*where, Payment.paid_at >= start, Payment.paid_at < end)
    ).all()
    refunds = db.session.execute(
        sa.select(Refund, Payment.out_trade_no)
        .join(Payment, Payment.id == Refund.payment_id)
        .where(*where, Refund.succeeded_at >= start, Refund.succeeded_at < end)
    ).all()
    return [_payment_record(p) for p in payments] + [_refund_record(r, no) for r, no in refunds]


def records_named_by(lines: list[StatementLine], channels) -> list[Record]:
    """Our records a statement names, whatever their day (matched, never reported missing)."""
    trade_nos = [line.key for line in lines if line.kind == "payment"]
    refund_nos = [line.key for line in lines if line.kind == "refund"]
    found = [
        _payment_record(p)
        for p in db.session.scalars(
            sa.select(Payment).where(Payment.out_trade_no.in_(trade_nos), Payment.channel.in_(channels))
        )
    ]
    found += [
        _refund_record(r, no)
        for r, no in db.session.execute(
            sa.select(Refund, Payment.out_trade_no)
            .join(Payment, Payment.id == Refund.payment_id)
            .where(Refund.out_refund_no.in_(refund_nos), Payment.channel.in_(channels))
        )
    ]
    return found


def _store(gateway: str, bill_date: date, merchant: str, values: dict[str, Any]) -> int:
    row = {"gateway": gateway, "bill_date": bill_date, "merchant": merchant, **values}
    return db.session.execute(
        pg_insert(ReconciliationReport)
        .values(**row)
        .on_conflict_do_update(
            index_elements=[
                ReconciliationReport.gateway,
                ReconciliationReport.bill_date,
                ReconciliationReport.merchant,
            ],
            set_={**values, "updated_at": utcnow()},
        )
        .returning(ReconciliationReport.id)
    ).scalar_one()


def reconcile_statement(
    gateway: str, bill_date: date, merchant: str, fetch, parse, channels, *, payee_id: int | None = None
) -> int:
    """Fetch, parse and match one statement; store the report (failed, with the error, if it could not be had)."""
    try:
        content = fetch()
        lines = parse(content) if content is not None else []
    except (GatewayError, StatementError, ValueError) as error:
        log.error("%s statement of %s (%s) could not be reconciled: %s", gateway, bill_date, merchant or "all", error)
        return _store(
            gateway,
            bill_date,
            merchant,
            {"status": ReportStatus.failed, "lines": 0, "matched": 0, "mismatches": [], "error": str(error)[:2000]},
        )
    ours = our_records(bill_date, channels, payee_id=payee_id)
    result = reconcile(lines, ours, others=records_named_by(lines, channels))
    status = ReportStatus.mismatched if result.mismatches else ReportStatus.matched
    if result.mismatches:
        log.error(
            "%s statement of %s (%s): %s mismatches", gateway, bill_date, merchant or "all", len(result.mismatches)
        )
    return _store(
        gateway,
        bill_date,
        merchant,
        {
            "status": status,
            "lines": result.lines,
            "matched": result.matched,
            "mismatches": [m.as_dict() for m in result.mismatches],
            "error": None,
        },
    )


def reconcile_day(bill_date: date) -> list[int]:
    """Reconcile every configured gateway for the day: WeChat Pay's one service-provider statement, and one Alipay
    statement per payee that authorised the app. Each in a SAVEPOINT of its own. Returns the report ids."""
    from payments.payees import alipay_app_auth_token

    report_ids: list[int] = []
    with atomic():
        wechat = wechatpay_gateway()
        if wechat is not None and WECHAT_CHANNELS:
            with atomic(savepoint=True):
                report_ids.append(
                    reconcile_statement(
                        "wechatpay",
                        bill_date,
                        "",
                        lambda: wechat.trade_bill(bill_date),
                        parse_wechat_trade_bill,
                        WECHAT_CHANNELS,
                    )
                )
        alipay = alipay_gateway()
        if alipay is not None and ALIPAY_CHANNELS:
            payees = db.session.execute(
                sa.select(Payee, AlipaySeller.seller_id).join(AlipaySeller, AlipaySeller.payee_id == Payee.id)
            ).all()
            for payee, seller_id in payees:
                token = alipay_app_auth_token(payee)
                if not token:
                    continue
                with atomic(savepoint=True):
                    report_ids.append(
                        reconcile_statement(
                            "alipay",
                            bill_date,
                            seller_id,
                            lambda token=token: alipay.trade_bill(bill_date, app_auth_token=token),
                            parse_alipay_trade_bill,
                            ALIPAY_CHANNELS,
                            payee_id=payee.id,
                        )
                    )
        return report_ids


# --- admins ------------------------------------------------------------------------------------------------------


def queue_reconciliation(bill_date: date) -> int | None:
    """Reconcile a day again in a job (an admin asked)."""
    from app import outbox
    from payments.gateways import jobs

    with atomic():
        return outbox.enqueue(jobs.reconcile_date, bill_date.isoformat())


def list_reports(args: dict[str, Any], pagination) -> list[ReconciliationReport]:
    where = []
    if args.get("gateway"):
        where.append(ReconciliationReport.gateway == args["gateway"])
    if args.get("bill_date"):
        where.append(ReconciliationReport.bill_date == args["bill_date"])
    if args.get("status"):
        where.append(ReconciliationReport.status == ReportStatus(args["status"]))
    pagination.item_count = db.session.scalar(
        sa.select(sa.func.count()).select_from(ReconciliationReport).where(*where)
    )
    return db.session.scalars(
        sa.select(ReconciliationReport)
        .where(*where)
        .order_by(ReconciliationReport.bill_date.desc(), ReconciliationReport.id.desc())
        .offset(pagination.first_item)
        .limit(pagination.page_size)
    ).all()


def get_report(report_id: int) -> ReconciliationReport:
    report = db.session.get(ReconciliationReport, report_id)
    if report is None:
        raise ReportNotFound()
    return report


def export_csv(bill_date: date, gateway: str | None = None) -> str:
    """Every mismatch of the day's reports as CSV, one line each."""
    where = [ReconciliationReport.bill_date == bill_date]
    if gateway:
        where.append(ReconciliationReport.gateway == gateway)
    rows = []
    for report in db.session.scalars(sa.select(ReconciliationReport).where(*where).order_by(ReconciliationReport.id)):
        base = {"gateway": report.gateway, "bill_date": report.bill_date.isoformat(), "merchant": report.merchant}
        if report.status is ReportStatus.failed:
            rows.append({**base, "problem": "statement_failed", "key": (report.error or "")[:200]})
        rows.extend({**base, **mismatch} for mismatch in report.mismatches)
    return mismatches_csv(rows)
