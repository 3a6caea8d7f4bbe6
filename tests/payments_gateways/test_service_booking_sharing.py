"""End to end: a marketplace service booking (home repair) paid with WeChat Pay JSAPI to a vendor taking a
commission gets its profit sharing requested exactly once, when the vendor has confirmed completion and the money
arrived; a refund afterwards returns the commission before the money goes back."""

from __future__ import annotations

import sqlalchemy as sa

from app.db import atomic
from app.extensions import db as database
from app.outbox import OutboxRow
from marketplace.services_jobs import share_service_order_profit
from payments import refund as refund_payment
from payments.gateways.models import ProfitShare, ShareStatus
from payments.models import Payee, Refund, RefundStatus
from tests.community import fixtures as community
from tests.marketplace import test_services as services
from tests.marketplace.test_services import build_shop, row, step, to_quoted
from tests.payments_gateways.conftest import NOTIFY_WECHAT, SUB_MCHID

# The community tree, residents and the booking helper, as fixtures of this module.
api, join, make_resident, tree, book = (
    community.api,
    community.join,
    community.make_resident,
    community.tree,
    services.book,
)


def test_a_wechat_paid_service_booking_is_shared_once_after_the_vendor_completes(
    configured, tree, make_user, make_resident, join, api, book, client, fake_wechatpay, wechatpay_keys, run_jobs
):
    shop = build_shop(make_user, make_resident, join, tree)
    with atomic():
        database.session.execute(
            sa.update(Payee)
            .where(Payee.id == shop.vendor.payee_id)
            .values(commission_bps=600, wechat_sub_mchid=SUB_MCHID)
        )
        shop.user.wechat_openid = "o_resident_lisi"
        database.session.merge(shop.user)

    order_id = book(shop.user, shop.plumbing).json["id"]
    to_quoted(api, shop, order_id)  # labour 80.00 + 2 valves × 25.00 = 130.00
    step(api, shop.user, order_id, "accept-quote")
    step(api, shop.tech1, order_id, "complete")  # the vendor's technician confirms the work is done
    assert row(order_id).status.value == "awaiting_payment"

    opened = api(
        shop.user,
        "post",
        "/api/v1/payments",
        json={"kind": "marketplace.service_order", "ids": [order_id], "channel": "wechat_jsapi"},
    )
    assert opened.status_code == 201, opened.json
    assert "paySign" in opened.json["pay_params"]
    order = fake_wechatpay.orders[opened.json["out_trade_no"]]
    assert (order["profit_sharing"], order["amount"]["total"]) == (True, 13000)  # frozen until shared
    run_jobs()
    assert fake_wechatpay.profit_sharing == {}  # nothing to share before the money arrives

    fake_wechatpay.pay(opened.json["out_trade_no"])
    headers, body = fake_wechatpay.transaction_notification(opened.json["out_trade_no"])
    assert client.post(NOTIFY_WECHAT, data=body, headers=headers).status_code == 204
    assert client.post(NOTIFY_WECHAT, data=body, headers=headers).status_code == 204  # delivered twice
    assert row(order_id).status.value == "paid"
    run_jobs()
    # The job delivered again, and asked directly: nothing more is shared.
    with atomic():
        share_service_order_profit(row(order_id).id)
    run_jobs()

    (sent,) = fake_wechatpay.profit_sharing.values()
    assert sent["receivers"] == [
        {**sent["receivers"][0], "type": "MERCHANT_ID", "account": wechatpay_keys.sp_mchid, "amount": 780}
    ]  # 6 % of 130.00
    assert sent["unfreeze_unsplit"] is True
    assert len(fake_wechatpay.calls("/v3/profitsharing/orders", "POST")) == 1
    share = database.session.scalar(sa.select(ProfitShare).execution_options(populate_existing=True))
    assert (share.status, share.amount_fen) == (ShareStatus.finished, 780)
    assert row(order_id).profit_sharing_requested_at is not None
    internal_id = row(order_id).id
    jobs = database.session.scalars(
        sa.select(OutboxRow).where(OutboxRow.key == f"marketplace.service_profit:{internal_id}")
    ).all()
    assert len(jobs) == 1

    # A refund of the whole booking returns the 7.80 commission first, then the 130.00.
    with atomic():
        refund = refund_payment(opened.json["id"], 13000, "售后全额退款", f"test:service-refund:{order_id}")
    run_jobs()
    assert database.session.get(Refund, refund.id, populate_existing=True).status is RefundStatus.succeeded
    assert [r["amount"] for r in fake_wechatpay.returns.values()] == [780]
    assert [r["amount"]["refund"] for r in fake_wechatpay.refunds.values()] == [13000]
