"""Races on real commits: 20 threads released together by a barrier.

What each test guards, and why it fails if the guard became a read-then-write:

- one notification recorded once: ``mark_paid`` INSERTs the capture ``ON CONFLICT (channel, channel_txn_id) DO
  NOTHING``. As "SELECT the capture, INSERT if absent", every thread passes the SELECT before the first commits and
  all but one then fail on the unique index: the callers (a gateway) see errors, and the tests assert that none do.
- partial refunds within the paid amount: ``refund`` reserves with ``UPDATE … SET refunded_fen = refunded_fen + n
  WHERE refunded_fen + n <= paid_fen``. As "read refunded_fen, check in Python, write", the threads all read 0 and
  all pass: more refunds are created than the money paid (or the CHECK constraint fails them with errors), and the
  test asserts exactly the refunds that fit, and no error but ``refund_exceeds_paid``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest
import sqlalchemy as sa

from app.db import atomic, utcnow
from app.extensions import db as database
from payments import mark_paid, refund
from payments.errors import PayableLocked, RefundExceedsPaid
from payments.models import Capture, Payment, PaymentStatus, Refund, RefundStatus
from payments.services import create_payment
from tests.payments.kinds import KIND

THREADS = 20


def race(app, calls: list[Callable[[], object]]) -> tuple[list[object], list[BaseException]]:
    """Run ``calls`` in threads, each in its own app context (own session and connection), released together."""
    barrier = threading.Barrier(len(calls))
    results: list[object] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def run(call):
        with app.app_context():
            try:
                barrier.wait(timeout=30)
                result = call()
                with lock:
                    results.append(result)
            except BaseException as error:
                with lock:
                    errors.append(error)
            finally:
                database.session.remove()

    threads = [threading.Thread(target=run, args=(call,)) for call in calls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results, errors


def notify(payment: Payment, txn: str) -> Callable[[], str]:
    out_trade_no, amount, channel = payment.out_trade_no, payment.amount_fen, payment.channel.value

    def call() -> str:
        with atomic():
            return mark_paid(out_trade_no, amount, txn, utcnow(), {"race": True}, channel=channel).status.value

    return call


def count(model, *where) -> int:
    return database.session.scalar(sa.select(sa.func.count()).select_from(model).where(*where))


def fresh(payment_id: int) -> Payment:
    return database.session.get(Payment, payment_id, populate_existing=True)


@pytest.fixture
def owner(committed_payables, make_resident, make_payee):
    user, person = make_resident("张三")
    return user, person, make_payee()


def test_a_late_success_after_cancellation_arriving_20_times_at_once_is_refunded_once(
    app, committed_payables, owner, run_jobs
):
    user, person, payee = owner
    bill = committed_payables.add(payee, person, 990)
    payment, _params = create_payment(user, kind=KIND, ids=[bill], channel="sandbox")
    committed_payables.set(bill, status="cancelled")  # the order timed out; the payer paid anyway

    results, errors = race(app, [notify(payment, "WX-LATE-1")] * THREADS)
    assert errors == []
    assert results == ["paid"] * THREADS
    assert count(Capture) == 1
    assert count(Refund) == 1
    settled = fresh(payment.id)
    assert (settled.late_reason.value, settled.paid_fen, settled.refunded_fen) == ("payable_unavailable", 990, 990)

    run_jobs()
    assert database.session.scalars(sa.select(Refund.status)).all() == [RefundStatus.succeeded]
    assert committed_payables.get(bill)["status"] == "cancelled"
    assert committed_payables.get(bill)["paid_count"] == 0


def test_a_double_payment_through_two_channels_applies_once_and_refunds_the_other_once(
    app, committed_payables, owner, run_jobs, fake_alipay
):
    user, person, payee = owner
    bill = committed_payables.add(payee, person, 4200)
    # The resident opened WeChat-like sandbox first, then switched to "Alipay" on another phone: the first payment
    # is closed, and both get paid.
    first, _ = create_payment(user, kind=KIND, ids=[bill], channel="sandbox")
    second, _ = create_payment(user, kind=KIND, ids=[bill], channel="alipay")
    assert fresh(first.id).status is PaymentStatus.closed

    calls = [notify(first, "SB-DOUBLE")] * (THREADS // 2) + [notify(second, "ALI-DOUBLE")] * (THREADS // 2)
    _results, errors = race(app, calls)
    assert errors == []
    assert count(Capture) == 2
    assert committed_payables.get(bill)["paid_count"] == 1
    assert committed_payables.get(bill)["paid_by"] == second.public_id
    applied, refunded = fresh(second.id), fresh(first.id)
    assert (applied.status, applied.late_reason, applied.refunded_fen) == (PaymentStatus.paid, None, 0)
    assert (refunded.late_reason.value, refunded.refunded_fen) == ("payment_closed", 4200)
    assert count(Refund) == 1

    run_jobs()
    assert database.session.scalars(sa.select(Refund.status)).all() == [RefundStatus.succeeded]


def test_concurrent_partial_refunds_never_exceed_what_was_paid(app, committed_payables, owner):
    user, person, payee = owner
    bill = committed_payables.add(payee, person, 1000)
    payment, _ = create_payment(user, kind=KIND, ids=[bill], channel="sandbox")
    with atomic():
        mark_paid(payment.out_trade_no, 1000, "SB-PARTIAL", utcnow(), {}, channel="sandbox")
    public_id = payment.public_id

    def partial(n: int) -> Callable[[], int]:
        def call() -> int:
            with atomic():
                return refund(public_id, 300, "部分退款", key=f"partial-{n}").amount_fen

        return call

    results, errors = race(app, [partial(n) for n in range(THREADS)])
    assert sorted(results) == [300, 300, 300]
    assert len(errors) == THREADS - 3
    assert all(isinstance(error, RefundExceedsPaid) for error in errors), errors
    assert fresh(payment.id).refunded_fen == 900
    assert database.session.scalar(sa.select(sa.func.sum(Refund.amount_fen))) == 900


def test_concurrent_requests_to_pay_one_payable_open_one_payment(app, committed_payables, owner):
    """The partial unique index on live items is the guard: a request that checked for an open payment in Python
    and then inserted would, with 20 at once, open several payments that could each be paid."""
    user, person, payee = owner
    bill = committed_payables.add(payee, person, 700)

    def open_one() -> str:
        with atomic():
            return create_payment(user, kind=KIND, ids=[bill], channel="sandbox")[0].public_id

    results, errors = race(app, [open_one] * THREADS)
    assert all(isinstance(error, PayableLocked) for error in errors), errors
    assert len(set(results)) == 1
    assert len(results) + len(errors) == THREADS
    assert count(Payment, Payment.status == PaymentStatus.created) == 1
    assert count(Payment) == 1
