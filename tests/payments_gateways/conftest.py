"""Fixtures for the WeChat Pay and Alipay gateways: keys generated once per session, fake gateways per test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from app.accounts import crypto
from app.db import atomic
from app.extensions import db as database
from payments.models import Payee, PayeeKind, Payment
from payments.payees import ALIPAY_TOKEN_PURPOSE
from tests.fakes.alipay import AlipayKeys, FakeAlipay
from tests.fakes.wechatpay import FakeWeChatPay, WeChatPayKeys
from tests.payments import kinds
from tests.payments.conftest import Payables

SUB_MCHID = "1900000109"
#: The platform's Alipay user id receiving commissions.
ROYALTY_ACCOUNT = "2088000000000001"


@pytest.fixture(scope="session")
def wechatpay_keys() -> WeChatPayKeys:
    return WeChatPayKeys.generate()


@pytest.fixture(scope="session")
def alipay_keys() -> AlipayKeys:
    return AlipayKeys.generate()


@pytest.fixture(scope="session")
def key_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("gateway-keys")


@pytest.fixture
def fake_wechatpay(wechatpay_keys: WeChatPayKeys) -> Iterator[FakeWeChatPay]:
    fake = FakeWeChatPay(wechatpay_keys, sub_mchids={SUB_MCHID}).start()
    yield fake
    fake.stop()


@pytest.fixture
def fake_alipay(alipay_keys: AlipayKeys) -> Iterator[FakeAlipay]:
    fake = FakeAlipay(alipay_keys).start()
    yield fake
    fake.stop()


@pytest.fixture
def gateway_settings(fake_wechatpay, fake_alipay, wechatpay_keys, alipay_keys, key_dir) -> dict[str, str]:
    """The settings a deployment would set, pointing at the fakes."""
    return {
        **wechatpay_keys.write(key_dir / "wechatpay"),
        **alipay_keys.write(key_dir / "alipay"),
        "WECHATPAY_GATEWAY": fake_wechatpay.base_url,
        "ALIPAY_GATEWAY": fake_alipay.gateway_url,
        "PAYMENTS_NOTIFY_BASE_URL": "https://linli.example.com",
        "ALIPAY_ROYALTY_ACCOUNT": ROYALTY_ACCOUNT,
    }


# --- the app configured for the fakes, payees, payables and payments ----------------------------------------------

NOTIFY_WECHAT = "/api/v1/payments/notify/wechat"
NOTIFY_ALIPAY = "/api/v1/payments/notify/alipay"


@pytest.fixture
def configured(app, gateway_settings) -> Iterator[dict[str, str]]:
    """The shared test app with the gateway settings pointing at this test's fakes; put back afterwards."""
    previous = {key: app.config.get(key) for key in gateway_settings}
    app.config.update(gateway_settings)
    yield gateway_settings
    app.config.update(previous)


@pytest.fixture
def payables(db) -> Payables:
    with atomic():
        database.session.execute(sa.text(kinds.PAYABLES_DDL))
    return Payables()


@pytest.fixture
def committed_payables(committed_db) -> Iterator[Payables]:
    with database.engine.begin() as connection:
        connection.execute(sa.text(kinds.PAYABLES_DDL))
    yield Payables()
    database.session.remove()
    with database.engine.begin() as connection:
        connection.execute(sa.text("DROP TABLE IF EXISTS test_payables"))


@pytest.fixture
def make_payee(app):
    def create(
        name: str = "幸福物业",
        *,
        sub_mchid: str | None = SUB_MCHID,
        alipay_token: str | None = None,
        commission_bps: int = 0,
    ) -> Payee:
        with atomic():
            payee = Payee(
                name=name, kind=PayeeKind.property_company, wechat_sub_mchid=sub_mchid, commission_bps=commission_bps
            )
            if alipay_token:
                payee.alipay_app_auth_token_ciphertext = crypto.encrypt(alipay_token, purpose=ALIPAY_TOKEN_PURPOSE)
            database.session.add(payee)
            database.session.flush()
        return payee

    return create


@pytest.fixture
def resident(make_user):
    return make_user("张三", wechat_openid="o_resident_zhangsan")


@pytest.fixture
def open_payment(client, auth_header):
    """``open_payment(user, payable_ids, channel)`` → the 201 body (with ``pay_params``) of POST /payments."""

    def create(user, ids, channel: str) -> dict:
        response = client.post(
            "/api/v1/payments",
            headers=auth_header(user),
            json={"kind": kinds.KIND, "ids": list(ids), "channel": channel},
        )
        assert response.status_code == 201, response.json
        return response.json

    return create


def payment_row(public_id: str) -> Payment:
    return database.session.scalar(
        sa.select(Payment).where(Payment.public_id == public_id).execution_options(populate_existing=True)
    )
