"""Fixtures for payment tests: the test payable kind and its table, payees, residents, demo-mode clients, and
channel doubles."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from datetime import datetime

import pytest
import sqlalchemy as sa

from app.db import atomic, utcnow
from app.extensions import db as database
from app.outbox import OutboxRow, OutboxStatus
from payments import channels
from payments.channels import SandboxChannel
from payments.errors import ChannelError
from payments.models import Payee, PayeeKind
from tests.community.fixtures import api, join, make_resident, make_staff, tree  # noqa: F401  (fixtures)
from tests.conftest import extra_app
from tests.payments import kinds

_ids = itertools.count(1)


@pytest.fixture(autouse=True)
def shared_extensions(app) -> Iterator[None]:
    """A demo-mode app built by a test rebinds the process-wide Redis client and limiter; bind them back."""
    from app.extensions import limiter, redis_client

    yield
    redis_client.init_app(app)
    limiter.init_app(app)


@pytest.fixture(autouse=True)
def no_failures() -> Iterator[None]:
    kinds.FAIL_ON_PAID.clear()
    kinds.REFUSE_ON_PAID.clear()
    yield
    kinds.FAIL_ON_PAID.clear()
    kinds.REFUSE_ON_PAID.clear()


class Payables:
    """Rows of ``test_payables``: ``add(payee, owner, amount)`` → id; ``get(id)``; ``set(id, status=…)``."""

    def add(
        self,
        payee: Payee,
        owner,
        amount_fen: int = 10000,
        *,
        expires_at: datetime | None = None,
        payable_id: str | None = None,
    ) -> str:
        """``owner`` is a Resident (subject by resident) or a User (subject by account)."""
        payable_id = payable_id or f"bill-{next(_ids)}"
        is_resident = hasattr(owner, "real_name")
        with atomic():
            database.session.execute(
                sa.text(
                    "INSERT INTO test_payables (id, payee_id, resident_public_id, user_id, amount_fen, expires_at) "
                    "VALUES (:id, :payee, :resident, :user, :amount, :expires)"
                ),
                {
                    "id": payable_id,
                    "payee": payee.id,
                    "resident": owner.public_id if is_resident else None,
                    "user": None if is_resident else owner.id,
                    "amount": amount_fen,
                    "expires": expires_at,
                },
            )
        return payable_id

    def get(self, payable_id: str):
        return kinds.row(payable_id)

    def set(self, payable_id: str, **values) -> None:
        assignments = ", ".join(f"{name} = :{name}" for name in values)
        with atomic():
            database.session.execute(
                sa.text(f"UPDATE test_payables SET {assignments} WHERE id = :id"), {"id": payable_id, **values}
            )


@pytest.fixture
def payables(db) -> Payables:
    with atomic():  # committed to the test's savepoint: rolled back with everything else
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
def make_payee(app) -> Callable[..., Payee]:
    def create(name: str = "幸福物业", *, kind: PayeeKind = PayeeKind.property_company, **columns) -> Payee:
        with atomic():
            payee = Payee(name=name, kind=kind, **columns)
            database.session.add(payee)
            database.session.flush()
        return payee

    return create


@pytest.fixture
def payee(make_payee) -> Payee:
    return make_payee()


@pytest.fixture
def demo_client(database_url, redis_url, app):
    """A test client of an app in demo mode (where the sandbox confirm route exists)."""
    with extra_app(database_url, redis_url, DEMO_MODE=True) as application:
        yield application.test_client()


def make_due() -> int:
    """Make every pending outbox row due now (instead of sleeping through back-offs)."""
    with atomic():
        return database.session.execute(
            sa.update(OutboxRow).where(OutboxRow.status == OutboxStatus.pending).values(run_at=utcnow())
        ).rowcount


class FakeAlipay(SandboxChannel):
    """A second in-process channel under the name ``alipay``, to change channels (the real one is issue 6)."""

    name = "alipay"


class FlakySandbox(SandboxChannel):
    """The sandbox whose refunds fail ``failures`` times before they succeed."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.refund_calls = 0

    def refund(self, payment, refund):
        self.refund_calls += 1
        if self.refund_calls <= self.failures:
            raise ChannelError(f"模拟渠道退款失败 #{self.refund_calls}")
        return super().refund(payment, refund)


def _swap(channel) -> Iterator:
    previous = channels.register_channel(channel)
    yield channel
    if previous is None:
        channels._channels.pop(channel.name, None)
    else:
        channels.register_channel(previous)


@pytest.fixture
def fake_alipay() -> Iterator[FakeAlipay]:
    yield from _swap(FakeAlipay())


@pytest.fixture
def flaky_sandbox() -> Callable[[int], FlakySandbox]:
    swapped = []

    def install(failures: int) -> FlakySandbox:
        channel = FlakySandbox(failures)
        swapped.append(channels.register_channel(channel))
        return channel

    yield install
    if swapped:
        channels.register_channel(swapped[0])
