"""The Alipay ISV client against the fake gateway over real HTTP: app_auth_token on every call, RSA2 both ways."""

from __future__ import annotations

from datetime import date, timedelta
from urllib.parse import parse_qsl

import pytest
from alipay import AliPay

from app.db import utcnow
from payments.gateways.alipay import AlipayGateway, AlipaySettings, timeout_express
from payments.gateways.common import GatewayError, NotificationRejected, fen_to_yuan, yuan_to_fen
from tests.fakes.wechatpay import new_rsa_key, private_pem, public_pem


@pytest.fixture
def gateway(gateway_settings) -> AlipayGateway:
    return AlipayGateway(AlipaySettings.from_config(gateway_settings))


@pytest.fixture
def merchant(fake_alipay):
    return fake_alipay.add_merchant()


def _order_string(gateway, merchant, out_trade_no="LP20261123000000000001", amount_fen=3250, minutes=15):
    now = utcnow()
    return gateway.app_order_string(
        out_trade_no=out_trade_no,
        subject="物业费-2026年11月",
        amount_fen=amount_fen,
        expires_at=now + timedelta(minutes=minutes, seconds=30),
        app_auth_token=merchant.app_auth_token,
        now=now,
    )


@pytest.mark.parametrize(("fen", "yuan"), [(3250, "32.50"), (1, "0.01"), (100, "1.00"), (0, "0.00")])
def test_fen_and_yuan_round_trip(fen, yuan):
    assert fen_to_yuan(fen) == yuan
    assert yuan_to_fen(yuan) == fen


@pytest.mark.parametrize("bad", ["32.505", "abc", "", "NaN", "1e400000"])
def test_yuan_with_more_than_two_decimals_or_junk_is_refused(bad):
    with pytest.raises(ValueError, match="yuan amount"):
        yuan_to_fen(bad)


def test_timeout_express_rounds_down_to_whole_minutes_and_refuses_less_than_one():
    now = utcnow()
    assert timeout_express(now + timedelta(minutes=14, seconds=59), now) == "14m"
    with pytest.raises(GatewayError):
        timeout_express(now + timedelta(seconds=59), now)


def test_order_string_is_signed_for_the_payee_and_passes_the_sdk_verify(gateway, merchant, fake_alipay, alipay_keys):
    order_string = _order_string(gateway, merchant)
    params = dict(parse_qsl(order_string))
    assert params["app_auth_token"] == merchant.app_auth_token
    assert params["notify_url"] == "https://linli.example.com/api/v1/payments/notify/alipay"
    signature = params.pop("sign")

    # python-alipay-sdk's own verification, with the app's public key standing in for Alipay's. A request's
    # signature covers sign_type too (verify() drops it, as notifications require), so it is checked through the
    # SDK's _verify over the request's content.
    verifier = AliPay(
        appid=alipay_keys.app_id,
        app_private_key_string=private_pem(new_rsa_key()),
        alipay_public_key_string=public_pem(alipay_keys.app),
        sign_type="RSA2",
    )
    content = "&".join(f"{k}={v}" for k, v in sorted(params.items()))
    assert verifier._verify(content, signature)
    assert not verifier._verify(content.replace("32.50", "0.01"), signature)
    without_type = {k: v for k, v in params.items() if k != "sign_type"}
    assert verifier.verify(without_type, signature) is False  # the notification rule would not match

    trade = fake_alipay.accept_order_string(order_string)  # the fake gateway checks it independently
    assert trade["total_amount"] == "32.50"
    assert trade["timeout_express"] == "15m"
    assert trade["seller_id"] == merchant.seller_id


def test_query_close_refund_carry_the_payees_token(gateway, merchant, fake_alipay):
    fake_alipay.accept_order_string(_order_string(gateway, merchant))
    assert (
        gateway.query(out_trade_no="LP20261123000000000001", app_auth_token=merchant.app_auth_token)["trade_status"]
        == "WAIT_BUYER_PAY"
    )
    fake_alipay.pay("LP20261123000000000001")
    with pytest.raises(GatewayError) as caught:
        gateway.close(out_trade_no="LP20261123000000000001", app_auth_token=merchant.app_auth_token)
    assert caught.value.code == "ACQ.TRADE_STATUS_ERROR"
    answer = gateway.refund(
        out_trade_no="LP20261123000000000001",
        out_request_no="LR1",
        refund_fen=1000,
        app_auth_token=merchant.app_auth_token,
        reason="退款",
    )
    again = gateway.refund(
        out_trade_no="LP20261123000000000001",
        out_request_no="LR1",
        refund_fen=1000,
        app_auth_token=merchant.app_auth_token,
    )
    assert (answer["fund_change"], again["fund_change"]) == ("Y", "N")
    refund = gateway.query_refund(
        out_trade_no="LP20261123000000000001", out_request_no="LR1", app_auth_token=merchant.app_auth_token
    )
    assert refund["refund_status"] == "REFUND_SUCCESS"
    assert {call.app_auth_token for call in fake_alipay.calls} == {merchant.app_auth_token}


def test_unknown_trade_is_none_and_closing_it_is_fine(gateway, merchant):
    assert gateway.query(out_trade_no="LP_NONE", app_auth_token=merchant.app_auth_token) is None
    gateway.close(out_trade_no="LP_NONE", app_auth_token=merchant.app_auth_token)


def test_a_call_without_a_valid_token_is_refused(gateway, fake_alipay):
    with pytest.raises(GatewayError) as caught:
        gateway.query(out_trade_no="LP1", app_auth_token="202611BBnot-a-token")
    assert caught.value.code == "aop.invalid-app-auth-token"


def test_a_request_signed_with_another_app_key_is_refused(gateway_settings, key_dir):
    (key_dir / "other_app.pem").write_text(private_pem(new_rsa_key()))
    other = AlipayGateway(
        AlipaySettings.from_config({**gateway_settings, "ALIPAY_PRIVATE_KEY_PATH": str(key_dir / "other_app.pem")})
    )
    with pytest.raises(GatewayError) as caught:
        other.query(out_trade_no="LP1", app_auth_token="x")
    assert caught.value.code == "isv.invalid-signature"


def test_an_answer_signed_with_another_alipay_key_is_not_trusted(gateway, merchant, fake_alipay, monkeypatch):
    monkeypatch.setattr(fake_alipay.keys, "alipay", new_rsa_key())
    with pytest.raises(GatewayError) as caught:
        gateway.query(out_trade_no="LP1", app_auth_token=merchant.app_auth_token)
    assert caught.value.code == "bad_response_signature"


def test_auth_token_info_names_the_seller(gateway, merchant):
    info = gateway.auth_token_info(merchant.app_auth_token)
    assert info["user_id"] == merchant.seller_id
    assert info["auth_app_id"] == merchant.auth_app_id


def test_trade_bill_downloads_the_zip(gateway, merchant):
    content = gateway.trade_bill(date(2026, 11, 22), app_auth_token=merchant.app_auth_token)
    assert content[:2] == b"PK"


# --- notifications ---------------------------------------------------------------------------------------------


def _paid(gateway, merchant, fake_alipay):
    fake_alipay.accept_order_string(_order_string(gateway, merchant))
    fake_alipay.pay("LP20261123000000000001")


def test_a_genuine_notification_verifies(gateway, merchant, fake_alipay, alipay_keys):
    _paid(gateway, merchant, fake_alipay)
    fields = gateway.verify_notification(fake_alipay.notification("LP20261123000000000001"))
    assert fields["total_amount"] == "32.50"
    assert fields["app_id"] == alipay_keys.app_id
    assert fields["seller_id"] == merchant.seller_id
    assert "sign" not in fields


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (lambda f: {**f, "total_amount": "0.01"}, "bad_signature"),
        (lambda f: {k: v for k, v in f.items() if k != "sign"}, "bad_signature"),
        (lambda f: {**f, "sign": f["sign"][:-8] + "AAAAAAA="}, "bad_signature"),
        (lambda f: {**f, "sign_type": "RSA"}, "bad_signature"),
        (lambda f: {**f, "sign": "%%%not-base64"}, "malformed"),
    ],
    ids=["tampered_amount", "no_sign", "forged_sign", "weak_sign_type", "garbage_sign"],
)
def test_a_bad_notification_is_rejected(gateway, merchant, fake_alipay, change, reason):
    _paid(gateway, merchant, fake_alipay)
    with pytest.raises(NotificationRejected) as caught:
        gateway.verify_notification(change(fake_alipay.notification("LP20261123000000000001")))
    assert caught.value.reason == reason


def test_a_notification_signed_by_another_key_or_for_another_app_is_rejected(gateway, merchant, fake_alipay):
    _paid(gateway, merchant, fake_alipay)
    with pytest.raises(NotificationRejected) as caught:
        gateway.verify_notification(fake_alipay.notification("LP20261123000000000001", signing_key=new_rsa_key()))
    assert caught.value.reason == "bad_signature"
    with pytest.raises(NotificationRejected) as caught:
        gateway.verify_notification(fake_alipay.notification("LP20261123000000000001", app_id="2021999999999999"))
    assert caught.value.reason == "wrong_app"


@pytest.mark.parametrize(("status", "retryable"), [(400, False), (403, False), (502, True), (503, True)])
def test_only_server_errors_from_the_gateway_are_retryable(gateway, merchant, fake_alipay, status, retryable):
    fake_alipay.fail_status, fake_alipay.fail_next = status, 1
    with pytest.raises(GatewayError) as caught:
        gateway.query(out_trade_no="LP1", app_auth_token=merchant.app_auth_token)
    assert (caught.value.code, caught.value.status, caught.value.retryable) == (f"HTTP_{status}", status, retryable)
