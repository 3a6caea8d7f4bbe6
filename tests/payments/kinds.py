"""A payable kind for the payment tests, backed by a real table so ``on_paid`` writes are transactional.

``test_payables`` is created by a fixture (in the test's transaction, or committed for races); the kind
``test.item`` reads and writes it exactly as a domain would, guarding its own state change in SQL.
"""

from __future__ import annotations

import threading

import sqlalchemy as sa

import payments
from app.db import utcnow
from app.extensions import db
from payments import PaidInfo, PayableRefused, RefundInfo, Subject

KIND = "test.item"

PAYABLES_DDL = """
CREATE TABLE IF NOT EXISTS test_payables (
    id text PRIMARY KEY,
    payee_id bigint NOT NULL,
    resident_public_id text,
    user_id bigint,
    amount_fen bigint NOT NULL,
    status text NOT NULL DEFAULT 'open',
    expires_at timestamptz,
    paid_by text,
    paid_count integer NOT NULL DEFAULT 0,
    refunded_fen bigint NOT NULL DEFAULT 0,
    refund_calls integer NOT NULL DEFAULT 0
)
"""

#: payable id → how many more calls of on_paid raise (kept outside the database, which the savepoint rolls back).
FAIL_ON_PAID: dict[str, int] = {}
#: payable ids whose on_paid refuses the money for good (PayableRefused).
REFUSE_ON_PAID: set[str] = set()
_lock = threading.Lock()


def row(payable_id: str):
    return (
        db.session.execute(sa.text("SELECT * FROM test_payables WHERE id = :id"), {"id": payable_id}).mappings().first()
    )


def _subject_of(payable_id: str) -> Subject | None:
    found = row(payable_id)
    if found is None:
        return None
    if found["resident_public_id"]:
        return Subject(resident_public_id=found["resident_public_id"])
    return Subject(user_id=found["user_id"])


def _is_payable(payable_id: str) -> bool:
    found = row(payable_id)
    return (
        found is not None
        and found["status"] == "open"
        and (found["expires_at"] is None or found["expires_at"] > utcnow())
    )


def _on_paid(payable_id: str, info: PaidInfo) -> None:
    if payable_id in REFUSE_ON_PAID:
        raise PayableRefused(f"payable {payable_id} now costs more than was paid")
    with _lock:
        if FAIL_ON_PAID.get(payable_id, 0) > 0:
            FAIL_ON_PAID[payable_id] -= 1
            raise RuntimeError("物业收费系统暂时不可用")
    updated = db.session.execute(
        sa.text(
            "UPDATE test_payables SET status = 'paid', paid_by = :payment, paid_count = paid_count + 1 "
            "WHERE id = :id AND status = 'open'"
        ),
        {"id": payable_id, "payment": info.payment_public_id},
    ).rowcount
    if not updated:
        raise RuntimeError(f"payable {payable_id} is not open")


def _on_refunded(payable_id: str, info: RefundInfo) -> None:
    db.session.execute(
        sa.text("UPDATE test_payables SET refunded_fen = :fen, refund_calls = refund_calls + 1 WHERE id = :id"),
        {"id": payable_id, "fen": info.refunded_fen},
    )


payments.register(
    KIND,
    payee_of=lambda payable_id: row(payable_id)["payee_id"],
    subject_of=_subject_of,
    scope="bills",
    amount_of=lambda payable_id: row(payable_id)["amount_fen"],
    expires_at_of=lambda payable_id: row(payable_id)["expires_at"],
    is_payable=_is_payable,
    on_paid=_on_paid,
    on_refunded=_on_refunded,
    title_of=lambda payable_id: f"测试款项 {payable_id}",
)
