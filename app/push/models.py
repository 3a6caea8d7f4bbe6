"""Push tables: deliveries (one per send), their audience, inbox rows, the unreachable, outside messages, grants and
preferences."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.db import created_at, intpk, public_id
from app.extensions import db

#: A public id generated in SQL (rows written by INSERT … SELECT have no Python default): 22 URL-safe characters
#: from a random UUID (122 random bits).
SQL_PUBLIC_ID = sa.text("rtrim(translate(encode(uuid_send(gen_random_uuid()), 'base64'), '+/', '-_'), '=')")


class Delivery(db.Model):
    """One ``push.send``: what it says (rendered once), to whom (``push_audience_chunks`` until fanned out), from what
    source.

    Title, body and source live here rather than on each inbox row: a district-wide send writes narrow inbox rows.
    """

    __tablename__ = "push_deliveries"
    __table_args__ = (
        sa.Index("ix_push_deliveries_source", "source_kind", "source_id"),
        sa.CheckConstraint("audience_count >= 0", name="audience_not_negative"),
    )

    id: Mapped[intpk]
    public_id: Mapped[public_id]
    event: Mapped[str] = mapped_column(sa.String(64))
    source_kind: Mapped[str] = mapped_column(sa.String(32))
    #: The source's public id (shown to recipients, who open the source from their inbox).
    source_id: Mapped[str] = mapped_column(sa.String(64))
    #: Deduplication key: a second send with the same key returns the first delivery.
    key: Mapped[str | None] = mapped_column(sa.String(200), unique=True)
    #: The delegation scope that lets a delegate receive it.
    scope: Mapped[str] = mapped_column(sa.String(32))
    urgent: Mapped[bool] = mapped_column(default=False)
    title: Mapped[str] = mapped_column(sa.String(200))
    body: Mapped[str] = mapped_column(sa.Text, default="")
    wechat_template_id: Mapped[str | None] = mapped_column(sa.String(64))
    #: The subscribe message's ``data``, formatted and checked against WeChat's limits when sent.
    wechat_data: Mapped[dict[str, Any] | None]
    wechat_page: Mapped[str | None] = mapped_column(sa.String(200))
    #: Why WeChat is off for this delivery (a field WeChat would refuse), else None.
    wechat_refused: Mapped[str | None] = mapped_column(sa.String(200))
    sms_template: Mapped[str | None] = mapped_column(sa.String(80))
    sms_params: Mapped[dict[str, Any] | None]
    #: Residents in the audience when sent (erased residents and duplicates left out).
    audience_count: Mapped[int] = mapped_column(default=0)
    #: Audience chunks fanned out so far (one job each, any number at once).
    fan_out_jobs: Mapped[int] = mapped_column(default=0, server_default="0")
    #: Unused since the audience is fanned out by chunks (it was the keyset cursor of one job after another); kept so
    #: that rows and code written before read the same.
    fan_out_cursor: Mapped[int] = mapped_column(sa.BigInteger, default=0, server_default="0")
    created_at: Mapped[created_at]
    fanned_out_at: Mapped[datetime | None]


class AudienceChunk(db.Model):
    """Up to ``PUSH_BATCH_SIZE`` residents a delivery is for (ids in ascending order, each in one chunk), copied from
    the caller's query when sent: one row per chunk, not per resident, so a district-wide send writes a hundred rows.

    One fan-out job per chunk deletes it in the statement that writes its inbox rows (``fanout._BATCH``): a chunk is
    fanned out once however often its job runs, and chunks of one delivery run side by side. Once none is left, the
    inbox and unreachable rows say whom the delivery reached.
    """

    __tablename__ = "push_audience_chunks"

    delivery_id: Mapped[int] = mapped_column(sa.ForeignKey("push_deliveries.id", ondelete="CASCADE"), primary_key=True)
    chunk: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=False)
    resident_ids: Mapped[list[int]] = mapped_column(ARRAY(sa.BigInteger))


class Via(enum.Enum):
    self = "self"  # the resident's own account
    delegate = "delegate"  # an account holding a delegation from the resident with the event's scope


class InboxItem(db.Model):
    """One message in one account's inbox, for one resident reached (the account's own, or one it holds a
    delegation from): a daughter acting for two elders reads for each separately.

    Written a district at a time, so every index and foreign key is paid 100,000 times per send. Kept: the public id
    (opening an item), the feed and the unread count per account, and (delivery, resident, account), which makes the
    fan-out idempotent and serves every per-source question (read receipts, who was reached, by resident).
    Its columns carry no foreign key (each costs a trigger per row, a third of the write): accounts and residents are
    never deleted (an account is deactivated, a resident erased in place; account deletion removes the inbox rows
    itself, ``inbox._erase``), deliveries are never deleted (``retract`` keeps them), and only the fan-out writes
    rows, from a delivery it holds locked.
    """

    __tablename__ = "push_inbox"
    __table_args__ = (
        sa.UniqueConstraint("delivery_id", "resident_id", "user_id"),
        sa.Index("ix_push_inbox_user_feed", "user_id", "created_at", "public_id"),
        sa.Index("ix_push_inbox_user_unread", "user_id", postgresql_where=sa.text("read_at IS NULL")),
    )

    id: Mapped[intpk]
    public_id: Mapped[str] = mapped_column(sa.String(24), unique=True, server_default=SQL_PUBLIC_ID)
    user_id: Mapped[int] = mapped_column(sa.BigInteger)
    resident_id: Mapped[int] = mapped_column(sa.BigInteger)
    delivery_id: Mapped[int] = mapped_column(sa.BigInteger)
    via: Mapped[Via]
    created_at: Mapped[created_at]
    read_at: Mapped[datetime | None]

    delivery: Mapped[Delivery] = relationship(
        lazy="joined", innerjoin=True, primaryjoin="foreign(InboxItem.delivery_id) == Delivery.id"
    )
    #: The resident reached (named on items received for someone else); loaded by the page's own query.
    resident = relationship("Resident", primaryjoin="foreign(InboxItem.resident_id) == Resident.id", viewonly=True)


class Unreachable(db.Model):
    """A resident of a delivery's audience whom nobody could receive for: no active account, and no delegate with an
    account holding the event's scope. Staff list them per source for a visit or a call."""

    __tablename__ = "push_unreachable"
    __table_args__ = (sa.UniqueConstraint("delivery_id", "resident_id"),)

    id: Mapped[intpk]
    delivery_id: Mapped[int] = mapped_column(sa.ForeignKey("push_deliveries.id", ondelete="CASCADE"))
    resident_id: Mapped[int] = mapped_column(sa.ForeignKey("accounts_residents.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[created_at]


class MessageStatus(enum.Enum):
    pending = "pending"  # waiting for its job (a retry included)
    sent = "sent"
    failed = "failed"  # the outside service refused it for good
    skipped = "skipped"  # not sent: no grant left, opted out, rate limited, no phone … (``reason``)


class Message(db.Model):
    """One outside send (a WeChat subscribe message or an SMS) to one account for one delivery.

    Sent by the job ``app.push.jobs.send_message`` from the outbox row keyed ``push:message:<id>``; that row's
    attempts and last error are the record of retries (a failed call rolls the job back, so only the outbox row,
    written apart, can keep them).
    """

    __tablename__ = "push_messages"
    __table_args__ = (
        sa.UniqueConstraint("delivery_id", "user_id", "channel"),
        sa.CheckConstraint("channel IN ('wechat', 'sms')", name="channel_known"),
        sa.CheckConstraint("status <> 'sent' OR sent_at IS NOT NULL", name="sent_has_time"),
        sa.Index(
            "ix_push_messages_sms_sent",
            "address",
            "sent_at",
            postgresql_where=sa.text("channel = 'sms' AND status = 'sent'"),
        ),
    )

    id: Mapped[intpk]
    public_id: Mapped[str] = mapped_column(sa.String(24), unique=True, server_default=SQL_PUBLIC_ID)
    delivery_id: Mapped[int] = mapped_column(sa.ForeignKey("push_deliveries.id", ondelete="CASCADE"))
    #: The inbox row it announces (cleared if the account is deleted; the record of the send stays).
    inbox_id: Mapped[int | None] = mapped_column(sa.ForeignKey("push_inbox.id", ondelete="SET NULL"), index=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("accounts_users.id", ondelete="CASCADE"), index=True)
    channel: Mapped[str] = mapped_column(sa.String(16))
    status: Mapped[MessageStatus] = mapped_column(default=MessageStatus.pending)
    #: Why it was skipped or failed (``no_grant``, ``opted_out``, ``rate_limited``, ``wechat_43101`` …).
    reason: Mapped[str | None] = mapped_column(sa.String(64))
    error: Mapped[str | None] = mapped_column(sa.String(500))
    #: The phone an SMS went to (E.164): SMS are limited per phone, counted here.
    address: Mapped[str | None] = mapped_column(sa.String(20))
    due_at: Mapped[datetime] = mapped_column(server_default=sa.func.now())
    sent_at: Mapped[datetime | None]
    created_at: Mapped[created_at]

    @property
    def outbox_key(self) -> str:
        return outbox_key(self.id)


def outbox_key(message_id: int) -> str:
    return f"push:message:{message_id}"


class SubscriptionGrant(db.Model):
    """One-time subscribe-message grants an account gave for a template (each accepted request adds one; each sent
    message spends one with a conditional UPDATE)."""

    __tablename__ = "push_subscription_grants"
    __table_args__ = (
        sa.UniqueConstraint("user_id", "template_id"),
        sa.CheckConstraint("remaining >= 0", name="remaining_not_negative"),
    )

    id: Mapped[intpk]
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("accounts_users.id", ondelete="CASCADE"))
    template_id: Mapped[str] = mapped_column(sa.String(64))
    remaining: Mapped[int] = mapped_column(default=0)
    granted_total: Mapped[int] = mapped_column(default=0)
    updated_at: Mapped[datetime] = mapped_column(server_default=sa.func.now())


class Preference(db.Model):
    """An account's choice for one event's SMS (no row: the event's default, SMS on)."""

    __tablename__ = "push_preferences"

    user_id: Mapped[int] = mapped_column(sa.ForeignKey("accounts_users.id", ondelete="CASCADE"), primary_key=True)
    event: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    sms: Mapped[bool]
    updated_at: Mapped[datetime] = mapped_column(server_default=sa.func.now(), onupdate=sa.func.now())
