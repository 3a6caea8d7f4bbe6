"""The audience in chunks: one fan-out job per chunk, jobs of one delivery side by side, a job run again writes nothing
twice, subscribe messages leave with their chunk, and a large audience is copied in a job rather than the request."""

import pytest
import sqlalchemy as sa

from app import push
from app.db import atomic
from app.extensions import db as database
from app.outbox import OutboxRow
from app.push.fanout import fan_out, snapshot_audience
from app.push.models import AudienceChunk, Delivery, InboxItem, Message
from tests.conftest import race
from tests.push import population
from tests.push.conftest import NOTICE_TEMPLATE, delivery_of
from tests.push.test_fanout import NOTICE, community_audience, expected_pairs, inbox_pairs

push.register_audience("test.community", lambda community_id: community_audience(community_id))


def _chunks(delivery_id: int) -> list[tuple[int, list[int]]]:
    return database.session.execute(
        sa.select(AudienceChunk.chunk, AudienceChunk.resident_ids)
        .where(AudienceChunk.delivery_id == delivery_id)
        .order_by(AudienceChunk.chunk)
    ).all()


def _fresh(delivery_id: int) -> Delivery:
    return database.session.get(Delivery, delivery_id, populate_existing=True)


def test_the_audience_is_copied_in_chunks_and_a_chunk_job_run_again_writes_nothing_twice(db, tree, app, monkeypatch):
    population.populate(30, [household.id for household in tree.rooms_a.values()])
    monkeypatch.setitem(app.config, "PUSH_BATCH_SIZE", 10)
    audience = community_audience(tree.a.id)
    with atomic():
        receipt = push.send("test.notice", audience, NOTICE, source=("notice", "chunks"))
    delivery = delivery_of(receipt)
    chunks = _chunks(delivery.id)
    assert [number for number, _ids in chunks] == [0, 1, 2]
    everyone = [resident for _number, ids in chunks for resident in ids]
    assert everyone == sorted(everyone)
    assert len(set(everyone)) == 30
    jobs = database.session.scalars(sa.select(OutboxRow.args).where(OutboxRow.key.like("push:fan_out:%"))).all()
    assert sorted(jobs) == [[delivery.id, 0], [delivery.id, 1], [delivery.id, 2]]

    with atomic():
        fan_out(delivery.id, 1)
    first = inbox_pairs(delivery.id)
    assert first
    assert {resident for _user, resident in first} <= set(chunks[1][1])
    with atomic():
        fan_out(delivery.id, 1)  # delivered again: its chunk is gone, nothing is written
    assert inbox_pairs(delivery.id) == first
    assert (_fresh(delivery.id).fan_out_jobs, _fresh(delivery.id).fanned_out_at) == (1, None)

    for number in (2, 0):
        with atomic():
            fan_out(delivery.id, number)
    delivery = _fresh(delivery.id)
    assert delivery.fan_out_jobs == 3
    assert delivery.fanned_out_at is not None
    assert inbox_pairs(delivery.id) == expected_pairs(audience)
    assert _chunks(delivery.id) == []


def test_chunk_jobs_of_one_delivery_run_side_by_side_and_cover_everyone_once(committed_db, app, monkeypatch):
    from tests.community.fixtures import build_tree

    tree = build_tree()
    n, size, threads = 600, 50, 4
    population.populate(n, [household.id for household in tree.rooms_a.values()])
    monkeypatch.setitem(app.config, "PUSH_BATCH_SIZE", size)
    with atomic():
        receipt = push.send("test.notice", community_audience(tree.a.id), NOTICE, source=("notice", "side"))
    delivery_id = delivery_of(receipt).id
    count = n // size
    committed_db.session.remove()
    turns = iter(range(threads))

    def work() -> None:
        # Every thread tries every chunk, each starting elsewhere: each chunk is raced by all of them.
        start = next(turns) * count // threads
        for number in [*range(start, count), *range(start)]:
            with atomic():
                fan_out(delivery_id, number)

    race(app, threads, work)
    delivery = _fresh(delivery_id)
    assert delivery.fan_out_jobs == count  # each chunk taken once
    assert delivery.fanned_out_at is not None  # by whichever job finished last
    assert inbox_pairs(delivery_id) == expected_pairs(community_audience(tree.a.id))
    assert database.session.scalar(sa.select(sa.func.count()).select_from(InboxItem)) == population.inbox_rows(n)


def test_subscribe_messages_leave_with_their_chunk_before_the_fan_out_ends(db, tree, app, monkeypatch):
    population.populate(40, [household.id for household in tree.rooms_a.values()])
    monkeypatch.setitem(app.config, "PUSH_BATCH_SIZE", 20)
    monkeypatch.setitem(app.config, "WECHAT_MINI_APPID", "wx_test")
    monkeypatch.setitem(app.config, "WECHAT_MINI_SECRET", "secret")
    with atomic():
        database.session.execute(sa.text("UPDATE accounts_users SET wechat_openid = 'o_' || id"))
        database.session.execute(
            sa.text(
                "INSERT INTO push_subscription_grants (user_id, template_id, remaining, granted_total)"
                " SELECT id, :t, 1, 1 FROM accounts_users"
            ),
            {"t": NOTICE_TEMPLATE},
        )
        receipt = push.send("test.notice", community_audience(tree.a.id), NOTICE, source=("notice", "early"))
    delivery = delivery_of(receipt)
    with atomic():
        fan_out(delivery.id, 0)
    messages = database.session.scalars(sa.select(Message.id).where(Message.delivery_id == delivery.id)).all()
    assert messages
    batches = database.session.scalars(sa.select(OutboxRow.args).where(OutboxRow.key.like("push:wechat:%"))).all()
    assert sorted(i for (ids,) in batches for i in ids) == sorted(messages)  # queued now, not after the last chunk
    assert _fresh(delivery.id).fanned_out_at is None


def test_an_audience_too_large_for_a_request_is_copied_in_a_job_once(db, tree, run_jobs, count_queries):
    population.populate(30, [household.id for household in tree.rooms_a.values()])
    with count_queries() as statements, atomic():
        receipt = push.send(
            "test.notice", push.Audience("test.community", {"community_id": tree.a.id}), NOTICE, source=("notice", "l")
        )
    assert receipt.audience is None
    assert not [statement for statement in statements if "push_audience_chunks" in statement]
    delivery = delivery_of(receipt)
    assert (delivery.audience_count, delivery.fanned_out_at, _chunks(delivery.id)) == (0, None, [])
    assert push.read_stats(("notice", "l"))["pending"] == 1

    run_jobs()
    delivery = _fresh(delivery.id)
    assert delivery.audience_count == 30
    assert delivery.fanned_out_at is not None
    assert inbox_pairs(delivery.id) == expected_pairs(community_audience(tree.a.id))
    with atomic():
        snapshot_audience(delivery.id, "test.community", {"community_id": tree.a.id})  # delivered again
    assert _chunks(delivery.id) == []
    assert push.read_stats(("notice", "l"))["audience"] == 30


def test_an_audience_retracted_before_its_copy_reaches_nobody(db, tree, run_jobs):
    population.populate(10, [household.id for household in tree.rooms_a.values()])
    with atomic():
        push.send(
            "test.notice", push.Audience("test.community", {"community_id": tree.a.id}), NOTICE, source=("n", "r")
        )
        push.retract(("n", "r"))
    run_jobs()
    assert database.session.scalar(sa.select(sa.func.count()).select_from(InboxItem)) == 0
    assert database.session.scalar(sa.select(sa.func.count()).select_from(AudienceChunk)) == 0


def test_an_unregistered_audience_is_refused(db):
    with pytest.raises(LookupError, match=r"test\.nobody"), atomic():
        push.send("test.notice", push.Audience("test.nobody", {}), NOTICE, source=("notice", "x"))
