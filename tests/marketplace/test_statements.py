"""Monthly statements (gross, refunds, commission, net; CSV) and profit sharing requested once when an order
completes, through the vendor's step or auto-confirm, against the fake WeChat Pay gateway."""

import csv
import io

import pytest
import sqlalchemy as sa

from app.db import atomic, utcnow
from app.extensions import db as database
from app.outbox import OutboxRow
from marketplace import statements
from marketplace.models import Vendor
from payments.gateways.models import ProfitShare
from payments.models import Payee
from tests.marketplace.fixtures import M, add_role, add_vendor
from tests.marketplace.test_aftersales import ask, complete, line_no
from tests.marketplace.test_orders import order_row
from tests.payments_gateways import conftest as gateways
from tests.payments_gateways.conftest import NOTIFY_WECHAT, SUB_MCHID

# The fake gateways and their settings, as fixtures of this module.
wechatpay_keys, alipay_keys, key_dir = gateways.wechatpay_keys, gateways.alipay_keys, gateways.key_dir
fake_wechatpay, fake_alipay = gateways.fake_wechatpay, gateways.fake_alipay
gateway_settings, configured = gateways.gateway_settings, gateways.configured


def set_commission(vendor: Vendor, bps: int, **columns) -> None:
    with atomic():
        database.session.execute(
            sa.update(Payee).where(Payee.id == vendor.payee_id).values(commission_bps=bps, **columns)
        )


@pytest.fixture
def month_of_sales(market, place, pay, api, run_jobs):
    """Order A (3060: a missing cabbage refunded while preparing, 600 refunded after-sales), order B (600) completed
    this month, order C paid and cancelled; the payee takes 6 %."""
    set_commission(market.vendor, 600)
    a = place(market.user, market.vendor, [(market.cabbage, 3), (market.pork, 1)]).json["id"]
    pay(market.user, a)
    api(market.owner, "post", f"{M}/orders/{a}/accept", json={})
    api(market.owner, "post", f"{M}/orders/{a}/prepare", json={})
    cabbage = line_no(api, market.owner, a, "小白菜")
    api(market.owner, "put", f"{M}/orders/{a}/lines/{cabbage}/adjustment", json={"missing_quantity": 1})
    for step in ("ready", "complete"):
        api(market.owner, "post", f"{M}/orders/{a}/{step}", json={})
    item = ask(api, market.user, a, line="五花肉", amount_fen=600).json["id"]
    api(market.owner, "post", f"{M}/aftersales/{item}/approve", json={})
    b = place(market.user, market.vendor, [(market.cabbage, 2)]).json["id"]
    pay(market.user, b)
    complete(api, market.owner, b)
    c = place(market.user, market.vendor, [(market.cabbage, 1)]).json["id"]
    pay(market.user, c)
    api(market.user, "post", f"{M}/orders/{c}/cancel", json={})
    run_jobs()
    return a, b, c


def test_the_month_statement_adds_up(market, month_of_sales, api):
    month = statements.current_month()
    response = api(
        market.owner, "get", f"{M}/vendors/{market.vendor.public_id}/statement", query_string={"month": month}
    )
    assert response.status_code == 200, response.json
    # Commission: 6 % of (3060 − 300 refunded before completion) = 165, and of 600 = 36.
    assert response.json == {
        "vendor_id": market.vendor.public_id,
        "vendor_name": "绿园生鲜",
        "month": month,
        "orders": 2,
        "gross_fen": 3660,
        "refunds_fen": 900,
        "commission_bps": 600,
        "commission_fen": 201,
        "net_fen": 2559,
    }
    earlier = api(
        market.owner, "get", f"{M}/vendors/{market.vendor.public_id}/statement", query_string={"month": "2020-01"}
    )
    assert (earlier.json["orders"], earlier.json["gross_fen"], earlier.json["net_fen"]) == (0, 0, 0)


def test_the_statement_exports_as_csv(market, month_of_sales, api):
    a, b, _c = month_of_sales
    month = statements.current_month()
    response = api(
        market.owner, "get", f"{M}/vendors/{market.vendor.public_id}/statement/export", query_string={"month": month}
    )
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert f'filename="statement-{month}.csv"' in response.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True))))
    assert rows[0] == ["订单号", "完成时间", "订单金额", "退款", "平台佣金", "结算金额"]
    assert [(r[0], r[2], r[3], r[4], r[5]) for r in rows[1:3]] == [
        (a, "30.60", "9.00", "1.65", "19.95"),
        (b, "6.00", "0.00", "0.36", "5.64"),
    ]
    assert rows[3] == ["合计（2 单）", month, "36.60", "9.00", "2.01", "25.59"]


@pytest.mark.parametrize("month", ["2026-13", "2026-1", "26-01", "", "2026-01-01"])
def test_a_bad_month_is_422(market, api, month):
    response = api(
        market.owner, "get", f"{M}/vendors/{market.vendor.public_id}/statement", query_string={"month": month}
    )
    assert (response.status_code, response.json["code"]) == (422, "validation_failed")


def test_only_the_owner_sees_the_statement(market, api, make_user, make_staff, tree):
    clerk, other_owner = make_user("店员"), make_user("赵老板")
    add_role(market.vendor, clerk, "clerk")
    add_vendor(other_owner, [tree.a], name="赵记水果")
    for path in ("statement", "statement/export"):
        url = f"{M}/vendors/{market.vendor.public_id}/{path}"
        assert api(clerk, "get", url, query_string={"month": "2026-12"}).status_code == 403
        assert api(make_staff(tree.a), "get", url, query_string={"month": "2026-12"}).status_code == 403
        assert api(other_owner, "get", url, query_string={"month": "2026-12"}).status_code == 404
        assert api(market.user, "get", url, query_string={"month": "2026-12"}).status_code == 404


# --- profit sharing at completion ----------------------------------------------------------------------------------


@pytest.fixture
def wechat_market(market, configured):
    """The market's vendor as a WeChat Pay sub-merchant taking 6 %, and a resident with a mini-program openid."""
    set_commission(market.vendor, 600, wechat_sub_mchid=SUB_MCHID)
    with atomic():
        market.user.wechat_openid = "o_resident_lisi"
        database.session.merge(market.user)
    return market


def pay_by_wechat(api, client, fake_wechatpay, user, order_id: str) -> str:
    opened = api(
        user,
        "post",
        "/api/v1/payments",
        json={"kind": "marketplace.market_order", "ids": [order_id], "channel": "wechat_jsapi"},
    )
    assert opened.status_code == 201, opened.json
    assert fake_wechatpay.orders[opened.json["out_trade_no"]]["profit_sharing"] is True
    fake_wechatpay.pay(opened.json["out_trade_no"])
    headers, body = fake_wechatpay.transaction_notification(opened.json["out_trade_no"])
    assert client.post(NOTIFY_WECHAT, data=body, headers=headers).status_code == 204
    return opened.json["id"]


def test_completing_an_order_requests_profit_sharing_once(
    wechat_market, place, api, client, fake_wechatpay, wechatpay_keys, run_jobs
):
    market = wechat_market
    order_id = place(market.user, market.vendor, [(market.cabbage, 5)]).json["id"]  # 15.00
    pay_by_wechat(api, client, fake_wechatpay, market.user, order_id)
    for step in ("accept", "prepare", "ready"):
        api(market.owner, "post", f"{M}/orders/{order_id}/{step}", json={})
    run_jobs()
    assert fake_wechatpay.profit_sharing == {}  # not before the vendor confirms fulfilment
    assert api(market.owner, "post", f"{M}/orders/{order_id}/complete", json={}).json["status"] == "completed"
    # The auto-confirm job, due later, finds the order completed and asks for nothing more.
    with atomic():
        database.session.execute(
            sa.update(OutboxRow)
            .where(OutboxRow.key == f"marketplace.autocomplete:{order_row(order_id).id}")
            .values(run_at=utcnow())
        )
    run_jobs()
    assert len(fake_wechatpay.profit_sharing) == 1
    (sent,) = fake_wechatpay.profit_sharing.values()
    assert sent["receivers"][0]["account"] == wechatpay_keys.sp_mchid
    assert sent["receivers"][0]["amount"] == 90  # 6 % of 15.00
    assert database.session.scalar(sa.select(sa.func.count()).select_from(ProfitShare)) == 1


def test_auto_confirm_requests_profit_sharing(wechat_market, place, api, client, fake_wechatpay, run_jobs):
    market = wechat_market
    order_id = place(market.user, market.vendor, [(market.cabbage, 2)]).json["id"]
    pay_by_wechat(api, client, fake_wechatpay, market.user, order_id)
    for step in ("accept", "prepare", "ready"):
        api(market.owner, "post", f"{M}/orders/{order_id}/{step}", json={})
    with atomic():
        database.session.execute(
            sa.update(OutboxRow)
            .where(OutboxRow.key == f"marketplace.autocomplete:{order_row(order_id).id}")
            .values(run_at=utcnow())
        )
    run_jobs()
    assert order_row(order_id).status.value == "completed"
    assert [s["receivers"][0]["amount"] for s in fake_wechatpay.profit_sharing.values()] == [36]


def test_a_sandbox_payment_completes_without_profit_sharing(market, place, pay, api):
    set_commission(market.vendor, 600)
    order_id = place(market.user, market.vendor, [(market.cabbage, 1)]).json["id"]
    pay(market.user, order_id)
    complete(api, market.owner, order_id)
    assert database.session.scalar(sa.select(sa.func.count()).select_from(ProfitShare)) == 0
