"""What payments keeps when an account is deleted, what it adds to a person's export, and the data check used
when two accounts are linked."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from app.extensions import db
from payments.models import Payee, Payment


def export_payments(user_id: int, _resident_id: int | None) -> list[dict[str, Any]]:
    """The person's payments, for ``GET /me/export``."""
    rows = db.session.execute(
        sa.select(Payment, Payee.name)
        .join(Payee, Payee.id == Payment.payee_id)
        .where(Payment.payer_user_id == user_id)
        .order_by(Payment.id)
    ).all()
    return [
        {
            "id": payment.public_id,
            "out_trade_no": payment.out_trade_no,
            "payee": payee_name,
            "kind": payment.kind,
            "channel": payment.channel.value,
            "status": payment.status.value,
            "amount_fen": payment.amount_fen,
            "paid_fen": payment.paid_fen,
            "refunded_fen": payment.refunded_fen,
            "created_at": payment.created_at,
            "paid_at": payment.paid_at,
        }
        for payment, payee_name in rows
    ]


def holds_payments(user_id: int) -> bool:
    return bool(db.session.scalar(sa.select(sa.exists().where(Payment.payer_user_id == user_id))))


def register() -> None:
    from app.accounts.consent import register_retention
    from app.auth.linking import register_data_check

    register_retention(
        "payments.records",
        keeps="支付与退款记录（金额、时间、收款方、交易号）",
        basis="《会计法》与《会计档案管理办法》要求会计凭证保存30年；《电子商务法》第三十一条要求交易信息保存不少于三年",
        export=export_payments,
    )
    register_data_check("payments", holds_payments)
