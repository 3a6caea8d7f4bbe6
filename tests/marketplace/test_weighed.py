"""Weighed goods and partial fulfilment: the vendor enters actual weights and missing quantities while preparing;
the differences are refunded together, once, when the order leaves preparing; the resident never pays more."""

import pytest
import sqlalchemy as sa

from app.db import atomic
from app.extensions import db as database
from marketplace.aftersales_models import LineAccount, MarketRefund, RefundCause
from marketplace.models import Order
from payments.models import RefundStatus
from tests.marketplace.fixtures import M, add_role, add_vendor, stock_of
from tests.marketplace.test_orders import order_row, refunds_of


@pytest.fixture
def preparing(market, place, pay, api):
    """A paid order of 3 斤 cabbage (900) and 2 × 600 g pork (4320), being prepared; returns (order id, payment id)."""
    order_id = place(market.user, market.vendor, [(market.cabbage, 3), (market.pork, 2)]).json["id"]
    payment_id = pay(market.user, order_id)
    for step in ("accept", "prepare"):
        assert api(market.owner, "post", f"{M}/orders/{order_id}/{step}", json={}).status_code == 200
    return order_id, payment_id


def line_no(api, user, order_id: str, name: str) -> int:
    lines = api(user, "get", f"{M}/orders/{order_id}").json["lines"]
    return next(line["line_no"] for line in lines if line["name"] == name)


def adjust(api, user, order_id, number, **body):
    return api(user, "put", f"{M}/orders/{order_id}/lines/{number}/adjustment", json=body)


def test_lines_are_numbered_in_the_order_shown(market, preparing, api):
    order_id, _ = preparing
    body = api(market.user, "get", f"{M}/orders/{order_id}").json
    assert [line["line_no"] for line in body["lines"]] == [1, 2]
    assert body["adjustments"] == []


def test_weight_under_the_estimate_and_a_missing_item_are_refunded_in_one_refund(market, preparing, api, run_jobs):
    order_id, payment_id = preparing
    pork, cabbage = line_no(api, market.owner, order_id, "五花肉"), line_no(api, market.owner, order_id, "小白菜")
    # 2 pieces estimated 1200 g weigh 1000 g: 18.00/斤 × 2 斤 = 36.00 instead of 43.20.
    weighed = adjust(api, market.owner, order_id, pork, actual_weight_g=1000)
    assert weighed.status_code == 200, weighed.json
    adjust(api, market.owner, order_id, cabbage, missing_quantity=2)
    fixed = adjust(api, market.owner, order_id, cabbage, missing_quantity=1)  # entered again: the last one counts
    assert {a["name"]: a["difference_fen"] for a in fixed.json["adjustments"]} == {"小白菜": 300, "五花肉": 720}
    assert refunds_of(payment_id) == []  # nothing is refunded while the vendor is still preparing

    ready = api(market.owner, "post", f"{M}/orders/{order_id}/ready", json={})
    assert ready.json["status"] == "ready"
    run_jobs()
    [refund] = refunds_of(payment_id)
    assert (refund.amount_fen, refund.status) == (1020, RefundStatus.succeeded)
    assert refund.key == f"marketplace.order:{order_id}:adjustments"
    assert order_row(order_id).refunded_fen == 1020
    ledger = database.session.scalars(sa.select(MarketRefund)).all()
    assert [(r.cause, r.amount_fen) for r in ledger] == [(RefundCause.adjustment, 1020)]
    # The missing unit is not put back on sale: the vendor could not find it.
    assert stock_of(market.cabbage) == 17
    detail = api(market.user, "get", f"{M}/orders/{order_id}").json
    assert {a["name"]: a["refunded_fen"] for a in detail["adjustments"]} == {"小白菜": 300, "五花肉": 720}


def test_a_weight_over_the_estimate_costs_the_resident_nothing_more(market, preparing, api, run_jobs):
    order_id, payment_id = preparing
    pork = line_no(api, market.owner, order_id, "五花肉")
    over = adjust(api, market.owner, order_id, pork, actual_weight_g=1500)
    assert [a["difference_fen"] for a in over.json["adjustments"]] == [0]
    api(market.owner, "post", f"{M}/orders/{order_id}/ready", json={})
    run_jobs()
    assert refunds_of(payment_id) == []
    assert order_row(order_id).refunded_fen == 0


def test_a_whole_missing_line_is_refunded_in_full(market, preparing, api, run_jobs):
    order_id, payment_id = preparing
    pork = line_no(api, market.owner, order_id, "五花肉")
    assert adjust(api, market.owner, order_id, pork, missing_quantity=2).status_code == 200
    refused = adjust(api, market.owner, order_id, pork, actual_weight_g=300)
    assert (refused.status_code, refused.json["code"]) == (422, "validation_failed")
    api(market.owner, "post", f"{M}/orders/{order_id}/ready", json={})
    run_jobs()
    assert [r.amount_fen for r in refunds_of(payment_id)] == [4320]


def test_the_settlement_runs_once_even_if_the_step_is_recorded_again(market, preparing, api, run_jobs):
    from marketplace import orders
    from marketplace.models import OrderStatus

    order_id, payment_id = preparing
    adjust(api, market.owner, order_id, line_no(api, market.owner, order_id, "小白菜"), missing_quantity=1)
    api(market.owner, "post", f"{M}/orders/{order_id}/ready", json={})
    # A replayed step finds every adjusted line settled already: nothing more is reserved or refunded.
    with atomic():
        order = database.session.get(Order, order_row(order_id).id)
        orders._on_step(order, OrderStatus.preparing, None)
    run_jobs()
    assert [r.amount_fen for r in refunds_of(payment_id)] == [300]
    account = database.session.scalars(sa.select(LineAccount).where(LineAccount.refunded_fen > 0)).one()
    assert account.refunded_fen == 300


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"missing_quantity": 4}, "missing_quantity"),  # more than ordered
        ({"actual_weight_g": 500}, "actual_weight_g"),  # cabbage is not weighed
        ({"actual_weight_g": 0}, "actual_weight_g"),
        ({"missing_quantity": -1}, "missing_quantity"),
        ({"missing_quantity": "1"}, "missing_quantity"),
    ],
)
def test_bad_adjustments_are_422_and_change_nothing(market, preparing, api, body, field):
    order_id, _ = preparing
    cabbage = line_no(api, market.owner, order_id, "小白菜")
    response = adjust(api, market.owner, order_id, cabbage, **body)
    assert (response.status_code, response.json["code"]) == (422, "validation_failed")
    assert field in str(response.json["details"])
    assert api(market.owner, "get", f"{M}/orders/{order_id}").json["adjustments"] == []


def test_adjustments_only_while_preparing_and_only_on_existing_lines(market, place, pay, api):
    order_id = place(market.user, market.vendor, [(market.cabbage, 1)]).json["id"]
    pay(market.user, order_id)
    early = adjust(api, market.owner, order_id, 1, missing_quantity=1)
    assert (early.status_code, early.json["code"]) == (409, "order_state_conflict")
    api(market.owner, "post", f"{M}/orders/{order_id}/accept", json={})
    api(market.owner, "post", f"{M}/orders/{order_id}/prepare", json={})
    missing_line = adjust(api, market.owner, order_id, 2, missing_quantity=1)
    assert (missing_line.status_code, missing_line.json["code"]) == (404, "order_line_not_found")


def test_who_may_adjust(market, preparing, api, make_user, tree, make_resident):
    order_id, _ = preparing
    courier, other_owner = make_user("配送员"), make_user("赵老板")
    add_role(market.vendor, courier, "courier")
    add_vendor(other_owner, [tree.a], name="赵记水果")
    assert adjust(api, courier, order_id, 1, missing_quantity=1).status_code == 403
    assert adjust(api, other_owner, order_id, 1, missing_quantity=1).status_code == 404
    assert adjust(api, market.user, order_id, 1, missing_quantity=1).status_code == 404
    clerk = make_user("店员")
    add_role(market.vendor, clerk, "clerk")
    assert adjust(api, clerk, order_id, 1, missing_quantity=1).status_code == 200


def test_a_refund_of_part_of_an_order_is_reserved_on_its_lines(market, preparing, api, run_jobs):
    from marketplace.adjustments import refund_amount
    from marketplace.aftersales_errors import LineRefundExceeded

    order_id, payment_id = preparing  # 900 + 4320
    with atomic():
        order = database.session.get(Order, order_row(order_id).id)
        refund_amount(order, 1000, "按商户政策退款", "policy")
    with atomic(), pytest.raises(LineRefundExceeded):
        refund_amount(database.session.get(Order, order_row(order_id).id), 4221, "再退", "policy-2")
    run_jobs()
    assert [r.amount_fen for r in refunds_of(payment_id)] == [1000]
    charged = database.session.scalars(
        sa.select(LineAccount.refunded_fen).order_by(LineAccount.line_id).execution_options(populate_existing=True)
    ).all()
    assert sum(charged) == 1000
