"""Statements in the gateways' real formats, parsed and matched with plain records."""

from __future__ import annotations

import pytest

from payments.gateways.reconciliation import (
    Record,
    StatementError,
    mismatches_csv,
    parse_alipay_trade_bill,
    parse_wechat_trade_bill,
    reconcile,
)
from tests.fakes.alipay import FakeAlipay
from tests.fakes.wechatpay import FakeWeChatPay


def _order(out_trade_no, total, txn):
    return {
        "sp_appid": "wx_mini",
        "sp_mchid": "1900000100",
        "sub_mchid": "1900000109",
        "transaction_id": txn,
        "out_trade_no": out_trade_no,
        "payer": {"sp_openid": "o_1"},
        "trade_type": "JSAPI",
        "description": "物业费",
        "success_time": "2026-11-22T10:00:00+08:00",
        "amount": {"total": total},
    }


def _refund(order, out_refund_no, amount, status="SUCCESS"):
    return {
        "out_refund_no": out_refund_no,
        "refund_id": "503" + out_refund_no,
        "status": status,
        "success_time": "2026-11-22T11:00:00+08:00",
        "amount": {"refund": amount},
    }


def wechat_statement(rows) -> bytes:
    return FakeWeChatPay.bill_text(rows).encode()


def test_wechat_statement_rows_start_with_backticks_and_end_with_a_summary():
    a, b = _order("LP_A", 3250, "4200A"), _order("LP_B", 100, "4200B")
    text = wechat_statement(
        [
            FakeWeChatPay.bill_row(None, a),
            FakeWeChatPay.bill_row(None, b),
            FakeWeChatPay.bill_refund_row(None, a, _refund(a, "LR_A", 1000)),
        ]
    )
    assert "\r\n`2026-11-22 10:00:00,`wx_mini," in text.decode()
    assert "总交易单数" in text.decode()

    lines = parse_wechat_trade_bill(text)

    assert [(line.kind, line.key, line.amount_fen, line.state) for line in lines] == [
        ("payment", "LP_A", 3250, "paid"),
        ("payment", "LP_B", 100, "paid"),
        ("refund", "LR_A", 1000, "succeeded"),
    ]
    assert lines[0].channel_txn_id == "4200A"
    assert lines[2].out_trade_no == "LP_A"
    assert lines[0].merchant == "1900000109"


def test_wechat_statement_whose_summary_disagrees_is_refused():
    a = _order("LP_A", 3250, "4200A")
    text = wechat_statement([FakeWeChatPay.bill_row(None, a)]).decode().replace("`1,`32.50", "`2,`32.50")
    with pytest.raises(StatementError, match="summary counts"):
        parse_wechat_trade_bill(text.encode())


def test_wechat_processing_refund_is_pending():
    a = _order("LP_A", 3250, "4200A")
    text = wechat_statement([FakeWeChatPay.bill_refund_row(None, a, _refund(a, "LR_A", 1000, "PROCESSING"))])
    assert parse_wechat_trade_bill(text)[0].state == "pending"


def _trade(out_trade_no, amount):
    return {
        "trade_no": "2026112222001" + out_trade_no[-4:],
        "out_trade_no": out_trade_no,
        "subject": "物业费-11月",
        "gmt_create": "2026-11-22 09:59:00",
        "gmt_payment": "2026-11-22 10:00:00",
        "total_amount": amount,
    }


def test_alipay_statement_is_a_zip_of_gbk_csv_with_comment_lines():
    fake = FakeAlipay(keys=None)
    a, b = _trade("LP_AAAA", "32.50"), _trade("LP_BBBB", "1.00")
    rows = [fake.trade_row(a), fake.trade_row(b), fake.refund_row(a, "LR_AAAA", "10.00", "2026-11-22 11:00:00")]
    content = fake.statement_zip("2088000000000001", "2026-11-22", rows)

    lines = parse_alipay_trade_bill(content)

    assert [(line.kind, line.key, line.amount_fen, line.state) for line in lines] == [
        ("payment", "LP_AAAA", 3250, "paid"),
        ("payment", "LP_BBBB", 100, "paid"),
        ("refund", "LR_AAAA", 1000, "succeeded"),
    ]
    assert lines[2].out_trade_no == "LP_AAAA"


def test_alipay_statement_without_a_detail_file_is_refused():
    import io
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("readme.txt", "nothing")
    with pytest.raises(StatementError):
        parse_alipay_trade_bill(buffer.getvalue())


def test_one_missing_payment_one_amount_mismatch_and_one_extra_refund_are_exactly_three_mismatches():
    a, b, c = _order("LP_A", 3250, "4200A"), _order("LP_B", 100, "4200B"), _order("LP_C", 500, "4200C")
    statement = parse_wechat_trade_bill(
        wechat_statement(
            [
                FakeWeChatPay.bill_row(None, a),
                FakeWeChatPay.bill_row(None, {**b, "amount": {"total": 90}}),  # the gateway took 0.90, we asked 1.00
                FakeWeChatPay.bill_refund_row(None, a, _refund(a, "LR_X", 500)),  # a refund we never made
            ]
        )
    )
    ours = [
        Record("payment", "LP_A", 3250, "paid"),
        Record("payment", "LP_B", 100, "paid"),
        Record("payment", "LP_C", 500, "paid"),  # paid here, absent from the statement
    ]

    result = reconcile(statement, ours)

    assert [(m.problem, m.kind, m.key) for m in result.mismatches] == [
        ("amount_differs", "payment", "LP_B"),
        ("missing_here", "refund", "LR_X"),
        ("missing_there", "payment", "LP_C"),
    ]
    assert result.matched == 1
    assert result.lines == 3
    assert c["out_trade_no"] == "LP_C"


def test_state_differs_and_records_outside_the_day_are_matched_but_never_missing():
    a = _order("LP_A", 3250, "4200A")
    statement = parse_wechat_trade_bill(
        wechat_statement(
            [
                FakeWeChatPay.bill_row(None, a),
                FakeWeChatPay.bill_refund_row(None, a, _refund(a, "LR_A", 1000)),
            ]
        )
    )
    result = reconcile(
        statement,
        [Record("refund", "LR_A", 1000, "pending", "LP_A")],
        others=[Record("payment", "LP_A", 3250, "closed"), Record("payment", "LP_OLD", 1, "paid")],
    )
    assert [(m.problem, m.key, m.ours_state, m.theirs_state) for m in result.mismatches] == [
        ("state_differs", "LP_A", "closed", "paid"),
        ("state_differs", "LR_A", "pending", "succeeded"),
    ]


def test_csv_export_has_a_header_and_one_line_per_mismatch():
    text = mismatches_csv(
        [
            {
                "gateway": "wechatpay",
                "bill_date": "2026-11-22",
                "problem": "missing_here",
                "kind": "refund",
                "key": "LR_X",
                "theirs_amount_fen": 500,
            }
        ]
    )
    lines = text.lstrip("\ufeff").splitlines()
    assert lines[0].startswith("gateway,bill_date,merchant,problem,kind,key")
    assert lines[1].startswith("wechatpay,2026-11-22,,missing_here,refund,LR_X")
