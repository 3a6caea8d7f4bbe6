"""WeChat Pay's platform-certificate mode (平台证书), the alternative to the 微信支付公钥: certificates downloaded from
``GET /v3/certificates``, decrypted with the APIv3 key, kept in ``cert_dir`` as wechatpayv3 keeps them, and
callbacks verified by the certificate their serial names."""

from __future__ import annotations

from pathlib import Path

import pytest

from payments.gateways.common import GatewayError, NotificationRejected
from payments.gateways.wechatpay import WeChatPayGateway, WeChatPaySettings
from payments.models import PaymentStatus
from tests.fakes.wechatpay import new_rsa_key
from tests.payments_gateways.conftest import NOTIFY_WECHAT, payment_row


@pytest.fixture
def cert_settings(gateway_settings, wechatpay_keys, key_dir, fake_wechatpay, tmp_path) -> dict[str, str]:
    fake_wechatpay.certificate_mode = True
    settings = {**gateway_settings, **wechatpay_keys.write_certificate_mode(key_dir / "wechatpay-cert-mode")}
    settings["WECHATPAY_CERT_DIR"] = str(tmp_path / "platform_certs")
    return settings


@pytest.fixture
def cert_configured(app, cert_settings):
    previous = {key: app.config.get(key) for key in cert_settings}
    app.config.update(cert_settings)
    yield cert_settings
    app.config.update(previous)


def test_a_payment_and_its_callback_in_certificate_mode(
    cert_configured, payables, make_payee, resident, open_payment, fake_wechatpay, wechatpay_keys, client
):
    body = open_payment(resident, [payables.add(make_payee(), resident, 3250)], "wechatpay")

    # The certificate was downloaded once, before the first call; wechatpayv3 verified the prepay answer with it.
    assert len(fake_wechatpay.calls("/v3/certificates", "GET")) == 1
    stored = Path(cert_configured["WECHATPAY_CERT_DIR"]) / f"{wechatpay_keys.cert_serial_hex}.pem"
    assert stored.read_text().startswith("-----BEGIN CERTIFICATE-----")
    assert "paySign" in body["pay_params"]

    fake_wechatpay.pay(body["out_trade_no"])
    headers, raw = fake_wechatpay.transaction_notification(body["out_trade_no"])
    assert headers["Wechatpay-Serial"] == wechatpay_keys.cert_serial_hex

    assert client.post(NOTIFY_WECHAT, data=raw, headers=headers).status_code == 204
    assert payment_row(body["id"]).status is PaymentStatus.paid
    assert len(fake_wechatpay.calls("/v3/certificates", "GET")) == 1


def test_a_restarted_process_reads_the_certificates_from_cert_dir(cert_configured, fake_wechatpay, wechatpay_keys):
    first = WeChatPayGateway(WeChatPaySettings.from_config(cert_configured))
    assert first.download_certificates() == {wechatpay_keys.cert_serial_hex}

    restarted = WeChatPayGateway(WeChatPaySettings.from_config(cert_configured))
    headers, raw = fake_wechatpay.notification(
        {"out_trade_no": "LP1"}, event_type="TRANSACTION.SUCCESS", original_type="transaction", summary="支付成功"
    )
    verified = restarted.verify_notification(headers, raw)

    assert verified["resource"] == {"out_trade_no": "LP1"}
    assert len(fake_wechatpay.calls("/v3/certificates", "GET")) == 1  # the second read its cert_dir


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (lambda fake, keys: {"serial": "0123456789ABCDEF"}, "unknown_serial"),
        (lambda fake, keys: {"signing_key": new_rsa_key()}, "bad_signature"),
        (lambda fake, keys: {"serial": keys.public_key_id}, "unknown_serial"),  # no public key in this mode
    ],
    ids=["unknown_serial", "forged_with_the_right_serial", "public_key_id_in_certificate_mode"],
)
def test_a_notification_not_signed_by_a_known_certificate_is_refused(
    cert_configured, fake_wechatpay, wechatpay_keys, change, reason
):
    gateway = WeChatPayGateway(WeChatPaySettings.from_config(cert_configured))
    headers, raw = fake_wechatpay.notification(
        {"out_trade_no": "LP1"},
        event_type="TRANSACTION.SUCCESS",
        original_type="transaction",
        summary="支付成功",
        **change(fake_wechatpay, wechatpay_keys),
    )
    with pytest.raises(NotificationRejected) as rejected:
        gateway.verify_notification(headers, raw)
    assert rejected.value.reason == reason
    # Just downloaded: an unknown serial does not download again within the refresh interval.
    assert len(fake_wechatpay.calls("/v3/certificates", "GET")) == 1


def test_certificates_under_another_apiv3_key_are_refused(cert_settings, fake_wechatpay, wechatpay_keys):
    settings = {**cert_settings, "WECHATPAY_APIV3_KEY": "another-32-byte-apiv3-key-000000"}
    gateway = WeChatPayGateway(WeChatPaySettings.from_config(settings))
    with pytest.raises(Exception, match="not signed by its certificate"):
        gateway.download_certificates()
    assert not Path(cert_settings["WECHATPAY_CERT_DIR"]).exists()


def test_half_a_public_key_setting_is_a_configuration_error(gateway_settings):
    with pytest.raises(ValueError, match="WECHATPAY_PUBLIC_KEY_ID"):
        WeChatPaySettings.from_config({**gateway_settings, "WECHATPAY_PUBLIC_KEY_ID": ""})
    settings = WeChatPaySettings.from_config(gateway_settings)
    assert (settings.public_key_id, settings.cert_dir) == (gateway_settings["WECHATPAY_PUBLIC_KEY_ID"], None)


def not_json() -> bytes:
    return b"<html><body>502 Bad Gateway</body></html>"


def test_a_certificates_answer_that_is_not_json_is_a_retryable_gateway_error(
    cert_settings, fake_wechatpay, monkeypatch
):
    monkeypatch.setattr(fake_wechatpay, "_certificates", not_json)  # a proxy's error page, answered 200
    gateway = WeChatPayGateway(WeChatPaySettings.from_config(cert_settings))
    with pytest.raises(GatewayError) as caught:
        gateway.download_certificates()
    assert (caught.value.code, caught.value.retryable) == ("bad_response", True)


def test_an_unwritable_cert_dir_is_a_retryable_gateway_error(cert_settings, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    settings = {**cert_settings, "WECHATPAY_CERT_DIR": str(blocker / "certs")}
    gateway = WeChatPayGateway(WeChatPaySettings.from_config(settings))
    with pytest.raises(GatewayError) as caught:
        gateway.download_certificates()
    assert (caught.value.code, caught.value.retryable) == ("cert_dir_unwritable", True)


@pytest.mark.parametrize("fault", ["not_json", "unwritable"])
def test_a_payment_while_certificates_cannot_be_had_answers_502_not_500(
    cert_configured,
    app,
    payables,
    make_payee,
    resident,
    client,
    auth_header,
    fake_wechatpay,
    monkeypatch,
    tmp_path,
    fault,
):
    if fault == "not_json":
        monkeypatch.setattr(fake_wechatpay, "_certificates", not_json)
    else:
        (tmp_path / "a-file").write_text("")
        monkeypatch.setitem(app.config, "WECHATPAY_CERT_DIR", str(tmp_path / "a-file" / "certs"))
    response = client.post(
        "/api/v1/payments",
        headers=auth_header(resident),
        json={"kind": "test.item", "ids": [payables.add(make_payee(), resident, 3250)], "channel": "wechatpay"},
    )
    assert (response.status_code, response.json["code"]) == (502, "channel_error")
    assert response.json["message"] == "支付渠道暂时不可用，请稍后再试"


def test_a_callback_while_certificates_cannot_be_had_is_refused_not_a_500(
    db, cert_configured, fake_wechatpay, client, monkeypatch
):
    monkeypatch.setattr(fake_wechatpay, "_certificates", not_json)
    headers, raw = fake_wechatpay.notification(
        {"out_trade_no": "LP1"}, event_type="TRANSACTION.SUCCESS", original_type="transaction", summary="支付成功"
    )
    response = client.post(NOTIFY_WECHAT, data=raw, headers=headers)
    assert (response.status_code, response.json) == (401, {"code": "FAIL", "message": "certificates_unavailable"})
