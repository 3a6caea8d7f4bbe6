"""A message to a few residents (an order step, a booking …) is delivered in one statement, with no job; to a longer
list, it is recorded with its audience, its count and its fan-out job in one statement: no read-back, no UPDATE of
the count."""

import pytest
import sqlalchemy as sa

from app import push
from app.db import atomic, utcnow
from app.extensions import db as database
from app.outbox import OutboxRow
from app.push.models import AudienceChunk, Delivery, InboxItem
from tests.push.conftest import delivery_of, fan_out_now
from tests.push.test_fanout import NOTICE


def test_a_message_to_a_few_residents_is_delivered_in_one_statement_without_a_job(db, person, count_queries):
    _a, first = person("甲")
    _b, second = person("乙")
    _c, erased = person("丙")
    with atomic():
        erased.erased_at = utcnow()
    jobs_before = database.session.scalar(sa.select(sa.func.count()).select_from(OutboxRow))
    with count_queries() as statements, atomic():
        receipt = push.send("test.notice", [second.id, first.id, first.id, erased.id], NOTICE, source=("notice", "s"))
    assert len(statements) == 1  # the delivery, its count and every inbox row
    assert receipt.audience == 2
    delivery = delivery_of(receipt)
    assert (delivery.audience_count, delivery.fanned_out_at is not None) == (2, True)
    inbox = database.session.scalars(sa.select(InboxItem.resident_id).where(InboxItem.delivery_id == delivery.id))
    assert sorted(inbox) == sorted([first.id, second.id])  # the erased resident gets nothing
    assert database.session.scalar(sa.select(sa.func.count()).select_from(AudienceChunk)) == 0
    assert database.session.scalar(sa.select(sa.func.count()).select_from(OutboxRow)) == jobs_before  # no job


def test_a_rolled_back_message_to_a_few_residents_leaves_nothing(db, person):
    _a, resident = person("甲")
    with pytest.raises(RuntimeError), atomic():
        push.send("test.notice", [resident.id], NOTICE, source=("notice", "gone"))
        raise RuntimeError("the caller's unit of work fails")
    assert database.session.scalar(sa.select(sa.func.count()).select_from(InboxItem)) == 0
    assert database.session.scalar(sa.select(sa.func.count()).select_from(Delivery)) == 0


def test_a_message_to_more_listed_residents_is_one_statement_and_its_fan_out_job(
    app, db, person, count_queries, monkeypatch
):
    monkeypatch.setitem(app.config, "PUSH_INLINE_AUDIENCE", 1)
    _a, first = person("甲")
    _b, second = person("乙")
    _c, erased = person("丙")
    with atomic():
        erased.erased_at = utcnow()
    with count_queries() as statements, atomic():
        receipt = push.send("test.notice", [second.id, first.id, first.id, erased.id], NOTICE, source=("notice", "s"))
    inserts = [s for s in statements if s.lstrip().upper().startswith(("INSERT", "WITH"))]
    assert len(inserts) == 1  # the delivery with its audience and the outbox row of its fan-out job
    assert not [s for s in statements if s.lstrip().upper().startswith("UPDATE")]
    assert receipt.audience == 2
    assert delivery_of(receipt).audience_count == 2
    chunks = database.session.execute(
        sa.select(AudienceChunk.chunk, AudienceChunk.resident_ids).where(
            AudienceChunk.delivery_id == delivery_of(receipt).id
        )
    ).all()
    assert chunks == [(0, sorted([first.id, second.id]))]
    fan_out_now(receipt)
    assert delivery_of(receipt).fanned_out_at is not None


@pytest.mark.parametrize("inline", [20, 0])
def test_a_repeated_key_returns_the_first_message_without_a_second_audience(app, db, person, monkeypatch, inline):
    monkeypatch.setitem(app.config, "PUSH_INLINE_AUDIENCE", inline)
    _a, resident = person("甲")
    with atomic():
        first = push.send("test.notice", [resident.id], NOTICE, source=("notice", "r"), key="order:1:step:1")
        again = push.send("test.notice", [resident.id], NOTICE, source=("notice", "r"), key="order:1:step:1")
    assert (first.created, again.created, again.audience) == (True, False, 1)
    assert again.delivery_id == first.delivery_id
    assert database.session.scalar(sa.select(sa.func.count()).select_from(Delivery)) == 1
    fan_out_now(first)
    assert database.session.scalar(sa.select(sa.func.count()).select_from(InboxItem)) == 1
