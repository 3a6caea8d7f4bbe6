"""Receipts (收据): read as JSON, listed for their payer and household, printed as HTML."""

from __future__ import annotations

from html import escape
from typing import Any

import sqlalchemy as sa

from app.api import SHANGHAI, keyset_page
from app.community.models import Household
from app.db import atomic
from app.extensions import db
from fees.access import payable_households, require_read
from fees.errors import ReceiptNotFound
from fees.models import FeeOrder, Receipt
from fees.money import yuan


def visible_receipt(user, public_id: str) -> Receipt:
    """A receipt for its payer, the household's members and delegates, and staff in scope; 404 for others."""
    receipt = db.session.scalar(sa.select(Receipt).where(Receipt.public_id == public_id))
    if receipt is None:
        raise ReceiptNotFound()
    if receipt.payer_user_id != user.id:
        require_read(user, db.session.get(Household, receipt.household_id), ReceiptNotFound)
    return receipt


def receipt_view(receipt: Receipt, order_id: str | None = None) -> dict[str, Any]:
    """``order_id``: the fee order's public id, when a list has read them all at once."""
    document = receipt.document
    if order_id is None:
        order_id = db.session.scalar(sa.select(FeeOrder.public_id).where(FeeOrder.id == receipt.fee_order_id))
    return {
        "id": receipt.public_id,
        "number": receipt.number,
        "payee": document["payee"],
        "estate": document["estate"],
        "household": document["household"],
        "paid_for": document.get("paid_for"),
        "lines": document["lines"],
        "principal_fen": receipt.principal_fen,
        "late_fee_fen": receipt.late_fee_fen,
        "total_fen": receipt.total_fen,
        "refunded_fen": receipt.refunded_fen,
        "fee_order_id": order_id,
        "payment_id": receipt.payment_public_id,
        "out_trade_no": receipt.out_trade_no,
        "channel": receipt.channel,
        "paid_at": receipt.paid_at,
        "issued_at": receipt.issued_at,
    }


def get_receipt(user, public_id: str) -> dict[str, Any]:
    with atomic():  # a delegate's view goes through acting_for, which is audited
        return receipt_view(visible_receipt(user, public_id))


def my_receipts(user, *, cursor: str | None, limit: int) -> dict[str, Any]:
    """Receipts the caller paid, and those of the households they pay for now (newest first, cursor pagination).
    A former member keeps the receipts they paid themselves and sees none issued after they left."""
    with atomic():
        household_ids = [household.id for household, _via, _resident in payable_households(user)]
        query = sa.select(Receipt).where(
            sa.or_(Receipt.payer_user_id == user.id, Receipt.household_id.in_(household_ids))
        )
        page = keyset_page(db.session, query, [Receipt.paid_at, Receipt.id], cursor=cursor, limit=limit)
        # The fee orders' public ids in one statement (``receipt_view`` alone reads one per receipt).
        orders = dict(
            db.session.execute(
                sa.select(FeeOrder.id, FeeOrder.public_id).where(
                    FeeOrder.id.in_({receipt.fee_order_id for receipt in page["items"]})
                )
            ).all()
        )
        items = [receipt_view(receipt, orders[receipt.fee_order_id]) for receipt in page["items"]]
        return {"items": items, "next_cursor": page["next_cursor"]}


CHANNELS = {"sandbox": "沙箱（演示）", "wechatpay": "微信支付", "alipay": "支付宝"}


def printable(user, public_id: str) -> str:
    """The receipt as a self-contained HTML page to print or save (no scripts, no outside assets)."""
    view = get_receipt(user, public_id)
    rows = "\n".join(
        "<tr><td>{title}</td><td>{period}</td><td class=n>{principal}</td><td class=n>{late}</td>"
        "<td class=n>{amount}</td></tr>".format(
            title=escape(line["title"]),
            period=escape(line["period"][:7]),
            principal=yuan(line["principal_fen"]),
            late=yuan(line["late_fee_fen"]),
            amount=yuan(line["amount_fen"]),
        )
        for line in view["lines"]
    )
    paid_at = view["paid_at"].astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M:%S")
    refunded = f"<p class=refund>已退款 ¥{yuan(view['refunded_fen'])}</p>" if view["refunded_fen"] else ""
    return f"""<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>收据 {escape(view["number"])}</title>
<style>
body {{ font-family: "PingFang SC", "Microsoft YaHei", sans-serif; max-width: 720px; margin: 2em auto; }}
h1 {{ text-align: center; letter-spacing: .5em; }} table {{ width: 100%; border-collapse: collapse; }}
th, td {{ border: 1px solid #333; padding: .3em .5em; }} .n {{ text-align: right; }}
.refund {{ color: #b00; font-weight: bold; }} @media print {{ body {{ margin: 0; }} }}
</style></head><body>
<h1>收 据</h1>
<p>编号：{escape(view["number"])}　　收款单位：{escape(view["payee"]["name"])}</p>
<p>房屋：{escape(view["household"]["address"])}</p>
<table><thead><tr><th>项目</th><th>所属期</th><th>本金（元）</th><th>滞纳金（元）</th><th>金额（元）</th></tr></thead>
<tbody>
{rows}
</tbody>
<tfoot><tr><th colspan=4>合计</th><th class=n>¥{yuan(view["total_fen"])}</th></tr></tfoot></table>
<p>支付方式：{escape(CHANNELS.get(view["channel"], view["channel"]))}　　交易单号：{escape(view["out_trade_no"])}</p>
<p>收款时间：{paid_at}</p>
{refunded}
</body></html>
"""
