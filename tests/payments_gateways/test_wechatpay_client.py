"""The WeChat Pay client against the fake gateway over real HTTP: partner paths, signatures both ways."""

from __future__ import annotations

import base64
import json
import time
from datetime import timedelta

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

from app.db import utcnow
from payments.gateways.common import GatewayError, NotificationRejected
from payments.gateways.wechatpay import WeChatPayGateway, WeChatPaySettings
from tests.fakes.wechatpay import new_rsa_key
from tests.payments_gateways.conftest import SUB_MCHID


@pytest.fixture
def gateway(gateway_settings) -> WeChatPayGateway:
    return WeChatPayGateway(WeChatPaySettings.from_config(gateway_settings))


def _prepay(gateway, out_trade_no="LP20261123000000000001", amount_fen=3250, expires_at=None, **kwargs):
    return gateway.prepay_jsapi(
        out_trade_no=out_trade_no,
        sub_mchid=SUB_MCHID,
        description="物业费-2026年11月",
        amount_fen=amount_fen,
        expires_at=expires_at or utcnow() + timedelta(minutes=15),
        openid="o_resident",
        **kwargs,
    )


def test_settings_are_none_until_every_required_one_is_set(gateway_settings):
    partial = {k: v for k, v in gateway_settings.items() if k != "WECHATPAY_APIV3_KEY"}
    assert WeChatPaySettings.from_config(partial) is None
    assert WeChatPaySettings.from_config(gateway_settings).notify_url == (
        "https://linli.example.com/api/v1/payments/notify/wechat"
    )


def test_jsapi_prepay_returns_request_payment_params_that_verify_with_the_merchant_key(
    gateway, fake_wechatpay, wechatpay_keys
):
    params = _prepay(gateway)

    assert set(params) == {"appId", "timeStamp", "nonceStr", "package", "signType", "paySign"}
    assert params["appId"] == wechatpay_keys.mini_appid
    assert params["signType"] == "RSA"
    order = fake_wechatpay.orders["LP20261123000000000001"]
    assert params["package"] == f"prepay_id={order['prepay_id']}"
    message = f"{params['appId']}\n{params['timeStamp']}\n{params['nonceStr']}\n{params['package']}\n"
    wechatpay_keys.merchant.public_key().verify(
        base64.b64decode(params["paySign"]), message.encode(), padding.PKCS1v15(), hashes.SHA256()
    )
    with pytest.raises(InvalidSignature):
        wechatpay_keys.merchant.public_key().verify(
            base64.b64decode(params["paySign"]),
            message.replace("prepay_id=", "prepay_id=x").encode(),
            padding.PKCS1v15(),
            hashes.SHA256(),
        )
    # The partner path, the payee's sub-merchant, the platform's mini-program and the payer's sp_openid.
    request = order["request"]
    assert fake_wechatpay.calls("/v3/pay/partner/transactions/jsapi")
    assert request["sp_mchid"] == wechatpay_keys.sp_mchid
    assert request["sub_mchid"] == SUB_MCHID
    assert request["payer"] == {"sp_openid": "o_resident"}
    assert request["amount"] == {"total": 3250, "currency": "CNY"}
    assert request["notify_url"] == "https://linli.example.com/api/v1/payments/notify/wechat"
    assert request["time_expire"].endswith("+08:00")
    assert request["settle_info"] == {"profit_sharing": False}


def test_prepay_again_with_the_same_order_gives_the_same_prepay_id(gateway):
    # The same request twice (one expiry: a second computed later could cross a second and differ, which WeChat
    # refuses as a different order under the same number).
    expires_at = utcnow() + timedelta(minutes=15)
    assert _prepay(gateway, expires_at=expires_at)["package"] == _prepay(gateway, expires_at=expires_at)["package"]


def test_app_prepay_uses_the_open_platform_app_id_and_signs_the_app_params(gateway, fake_wechatpay, wechatpay_keys):
    params = gateway.prepay_app(
        out_trade_no="LP20261123000000000002",
        sub_mchid=SUB_MCHID,
        description="社区团购",
        amount_fen=1280,
        expires_at=utcnow() + timedelta(minutes=15),
        profit_sharing=True,
    )

    assert params["appid"] == wechatpay_keys.open_appid
    assert params["partnerid"] == wechatpay_keys.sp_mchid
    assert params["package"] == "Sign=WXPay"
    message = f"{params['appid']}\n{params['timestamp']}\n{params['noncestr']}\n{params['prepayid']}\n"
    wechatpay_keys.merchant.public_key().verify(
        base64.b64decode(params["sign"]), message.encode(), padding.PKCS1v15(), hashes.SHA256()
    )
    assert fake_wechatpay.orders["LP20261123000000000002"]["trade_type"] == "APP"
    assert fake_wechatpay.orders["LP20261123000000000002"]["profit_sharing"] is True


def test_unknown_sub_merchant_is_refused_by_the_gateway(gateway):
    with pytest.raises(GatewayError) as caught:
        gateway.prepay_jsapi(
            out_trade_no="LP20261123000000000003",
            sub_mchid="1999999999",
            description="x",
            amount_fen=1,
            expires_at=utcnow() + timedelta(minutes=15),
            openid="o_x",
        )
    assert caught.value.code == "INVALID_REQUEST"
    assert not caught.value.retryable


def test_a_request_signed_with_another_key_is_refused(gateway_settings, fake_wechatpay, key_dir):
    from tests.fakes.wechatpay import private_pem

    (key_dir / "other.pem").write_text(private_pem(new_rsa_key()))
    other = WeChatPayGateway(
        WeChatPaySettings.from_config({**gateway_settings, "WECHATPAY_PRIVATE_KEY_PATH": str(key_dir / "other.pem")})
    )
    with pytest.raises(GatewayError) as caught:
        other.query(out_trade_no="LP1", sub_mchid=SUB_MCHID)
    assert caught.value.code == "SIGN_ERROR"


def test_an_answer_signed_with_another_platform_key_is_not_trusted(gateway, fake_wechatpay, monkeypatch):
    original = fake_wechatpay.signed_headers
    impostor = new_rsa_key()
    monkeypatch.setattr(
        fake_wechatpay, "signed_headers", lambda body, **kw: original(body, **{**kw, "signing_key": impostor})
    )
    with pytest.raises(GatewayError) as caught:
        _prepay(gateway)
    assert caught.value.code == "bad_response_signature"
    assert caught.value.retryable


def test_query_close_and_query_again(gateway, fake_wechatpay):
    _prepay(gateway)
    assert gateway.query(out_trade_no="LP20261123000000000001", sub_mchid=SUB_MCHID)["trade_state"] == "NOTPAY"
    gateway.close(out_trade_no="LP20261123000000000001", sub_mchid=SUB_MCHID)
    assert gateway.query(out_trade_no="LP20261123000000000001", sub_mchid=SUB_MCHID)["trade_state"] == "CLOSED"
    assert gateway.query(out_trade_no="LP_NEVER_SEEN", sub_mchid=SUB_MCHID) is None
    gateway.close(out_trade_no="LP_NEVER_SEEN", sub_mchid=SUB_MCHID)  # nothing to close is fine


def test_closing_a_paid_order_raises_orderpaid(gateway, fake_wechatpay):
    _prepay(gateway)
    fake_wechatpay.pay("LP20261123000000000001")
    with pytest.raises(GatewayError) as caught:
        gateway.close(out_trade_no="LP20261123000000000001", sub_mchid=SUB_MCHID)
    assert caught.value.code == "ORDERPAID"


def test_refund_is_idempotent_per_out_refund_no(gateway, fake_wechatpay):
    _prepay(gateway)
    fake_wechatpay.pay("LP20261123000000000001")
    first = gateway.refund(
        out_trade_no="LP20261123000000000001",
        out_refund_no="LR1",
        refund_fen=1000,
        total_fen=3250,
        sub_mchid=SUB_MCHID,
        reason="退款",
    )
    again = gateway.refund(
        out_trade_no="LP20261123000000000001",
        out_refund_no="LR1",
        refund_fen=1000,
        total_fen=3250,
        sub_mchid=SUB_MCHID,
        reason="退款",
    )
    assert first["refund_id"] == again["refund_id"]
    assert first["status"] == "SUCCESS"
    assert len(fake_wechatpay.refunds) == 1
    assert gateway.query_refund(out_refund_no="LR1", sub_mchid=SUB_MCHID)["status"] == "SUCCESS"
    assert gateway.query_refund(out_refund_no="LR_NONE", sub_mchid=SUB_MCHID) is None


def test_profit_sharing_sends_the_commission_to_the_service_provider(gateway, fake_wechatpay, wechatpay_keys):
    _prepay(gateway, profit_sharing=True)
    transaction = fake_wechatpay.pay("LP20261123000000000001")
    answer = gateway.profit_share(
        transaction_id=transaction["transaction_id"],
        out_order_no="PS1",
        sub_mchid=SUB_MCHID,
        amount_fen=163,
        description="平台服务费",
    )
    assert answer["state"] == "FINISHED"
    record = fake_wechatpay.profit_sharing["PS1"]
    assert record["receivers"][0]["account"] == wechatpay_keys.sp_mchid
    assert record["receivers"][0]["amount"] == 163
    assert record["unfreeze_unsplit"] is True


def test_server_errors_are_retryable(gateway, fake_wechatpay):
    fake_wechatpay.fail_next = 1
    with pytest.raises(GatewayError) as caught:
        gateway.query(out_trade_no="LP1", sub_mchid=SUB_MCHID)
    assert caught.value.code == "SYSTEM_ERROR"
    assert caught.value.retryable


def test_trade_bill_downloads_the_gzipped_statement_and_checks_its_hash(gateway, fake_wechatpay):
    fake_wechatpay.bills["2026-11-22"] = fake_wechatpay.bill_text([])
    content = gateway.trade_bill(__import__("datetime").date(2026, 11, 22))
    assert content.decode().startswith("交易时间,公众账号ID")


# --- notifications ---------------------------------------------------------------------------------------------


def _paid_notification(gateway, fake_wechatpay, **overrides):
    _prepay(gateway)
    fake_wechatpay.pay("LP20261123000000000001")
    return fake_wechatpay.transaction_notification("LP20261123000000000001", **overrides)


def test_a_genuine_notification_is_verified_and_decrypted(gateway, fake_wechatpay, wechatpay_keys):
    headers, body = _paid_notification(gateway, fake_wechatpay)
    result = gateway.verify_notification(headers, body)
    assert result["event_type"] == "TRANSACTION.SUCCESS"
    assert result["resource"]["out_trade_no"] == "LP20261123000000000001"
    assert result["resource"]["amount"]["total"] == 3250
    assert result["resource"]["sp_mchid"] == wechatpay_keys.sp_mchid


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (lambda f, h, b: ({**h, "Wechatpay-Serial": "PUB_KEY_ID_UNKNOWN"}, b), "unknown_serial"),
        (lambda f, h, b: ({k: v for k, v in h.items() if k != "Wechatpay-Signature"}, b), "missing_headers"),
        (
            lambda f, h, b: (
                {
                    **h,
                    "Wechatpay-Signature": f.signed_headers(b.decode(), signing_key=new_rsa_key())[
                        "Wechatpay-Signature"
                    ],
                },
                b,
            ),
            "bad_signature",
        ),
        (
            lambda f, h, b: (
                h,
                b.replace(b'"event_type":"TRANSACTION.SUCCESS"', b'"event_type":"TRANSACTION.XXXXXXX"'),
            ),
            "bad_signature",
        ),
        (lambda f, h, b: (f.signed_headers(b.decode(), timestamp=int(time.time()) - 301), b), "stale_timestamp"),
        (lambda f, h, b: ({**h, "Wechatpay-Signature-Type": "HMAC-SHA256"}, b), "bad_signature"),
    ],
    ids=["unknown_serial", "missing_signature", "forged_signature", "tampered_body", "stale", "other_algorithm"],
)
def test_a_bad_notification_is_rejected(gateway, fake_wechatpay, change, reason):
    headers, body = _paid_notification(gateway, fake_wechatpay)
    headers, changed = change(fake_wechatpay, headers, body)
    if reason == "bad_signature" and changed != body:
        assert b"TRANSACTION.XXXXXXX" in changed  # the tamper really changed the signed bytes (deps.md trap 19)
    with pytest.raises(NotificationRejected) as caught:
        gateway.verify_notification(headers, changed)
    assert caught.value.reason == reason
    assert not fake_wechatpay.calls("/v3/certificates")  # an unknown serial never makes us call out


def test_a_notification_encrypted_with_another_key_fails_to_decrypt(gateway, fake_wechatpay):
    _prepay(gateway)
    fake_wechatpay.pay("LP20261123000000000001")
    headers, body = fake_wechatpay.notification(
        fake_wechatpay.transaction("LP20261123000000000001"),
        event_type="TRANSACTION.SUCCESS",
        original_type="transaction",
        summary="支付成功",
        apiv3_key="x" * 32,
    )
    with pytest.raises(NotificationRejected) as caught:
        gateway.verify_notification(headers, body)
    assert caught.value.reason == "decrypt_failed"


def test_garbage_body_with_a_valid_signature_is_malformed(gateway, fake_wechatpay):
    body = "not json"
    with pytest.raises(NotificationRejected) as caught:
        gateway.verify_notification(fake_wechatpay.signed_headers(body), body.encode())
    assert caught.value.reason in ("malformed", "decrypt_failed")
    json.dumps(caught.value.detail)
