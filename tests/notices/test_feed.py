"""Channels, pins, expiry, Markdown, the residents' feed (pinned first, cursor pages, constant statements) and
withdrawal retracting what was pushed."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from app import push
from app.db import atomic, utcnow
from app.extensions import db as database
from app.push.models import Delivery, InboxItem, Message, MessageStatus
from notices.models import Notice


def _publish(api, staff, notice_id):
    response = api(staff, "post", f"/api/v1/notices/{notice_id}/publish", json={})
    assert response.status_code == 200, response.json
    return response.json


def _feed(api, user, **query):
    response = api(user, "get", "/api/v1/notices/feed", query_string=query)
    assert response.status_code == 200, response.json
    return response.json


def _stagger(ids: list[str]) -> None:
    """Published one minute apart in list order (the test runs in one transaction, where now() stands still)."""
    with atomic():
        for minutes, public_id in enumerate(ids):
            database.session.execute(
                sa.update(Notice)
                .where(Notice.public_id == public_id)
                .values(published_at=sa.func.now() - timedelta(minutes=100 - minutes))
            )


def test_channels_pin_and_the_feed_order(people, tree, api, draft, run_jobs):
    ids = []
    for channel, title, pinned in (
        ("announcement", "停水通知", False),
        ("organization", "党支部换届", False),
        ("information", "医保缴费提示", True),
        ("activity", "重阳节活动", False),
    ):
        notice = draft(people.staff, tree.a, title=title, channel=channel, pinned=pinned)
        assert (notice["channel"], notice["pinned"]) == (channel, pinned)
        _publish(api, people.staff, notice["id"])
        ids.append(notice["id"])
    _stagger(ids)
    run_jobs()

    feed = _feed(api, people.own1)
    # Pinned first, then newest.
    assert [item["title"] for item in feed["items"]] == ["医保缴费提示", "重阳节活动", "党支部换届", "停水通知"]
    assert [item["channel_name"] for item in feed["items"]] == ["社区信息", "社区活动", "社区组织", "社区公告"]
    assert all(item["read"] is False for item in feed["items"])

    only = _feed(api, people.own1, channel="organization")
    assert [item["title"] for item in only["items"]] == ["党支部换届"]
    assert api(people.own1, "get", "/api/v1/notices/feed?channel=gossip").status_code == 422

    # Opening marks it read in the feed; the daughter sees them for her mother; the outsider sees nothing.
    api(people.own1, "get", f"/api/v1/notices/{ids[0]}")
    assert {item["title"]: item["read"] for item in _feed(api, people.own1)["items"]}["停水通知"] is True
    assert len(_feed(api, people.daughter)["items"]) == 4
    assert _feed(api, people.outsider)["items"] == []

    # Staff unpin: it falls back to its place by time.
    assert api(people.staff, "put", f"/api/v1/notices/{ids[2]}/pin", json={"pinned": False}).json["pinned"] is False
    assert _feed(api, people.own1)["items"][0]["title"] == "重阳节活动"


def test_feed_pages_by_cursor_with_a_constant_number_of_statements(people, tree, api, draft, run_jobs, count_queries):
    ids = [draft(people.staff, tree.a, title=f"通知{i}", pinned=i % 5 == 0)["id"] for i in range(12)]
    for notice_id in ids:
        _publish(api, people.staff, notice_id)
    _stagger(ids)
    run_jobs()

    seen, cursor, pages = [], None, 0
    while True:
        page = _feed(api, people.own1, limit=5, **({"cursor": cursor} if cursor else {}))
        seen += [item["title"] for item in page["items"]]
        pages += 1
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert pages == 3
    pinned = ["通知10", "通知5", "通知0"]
    assert seen == pinned + [f"通知{i}" for i in range(11, -1, -1) if f"通知{i}" not in pinned]

    counts = {}
    for limit in (2, 12):
        with count_queries() as statements:
            assert len(_feed(api, people.own1, limit=limit)["items"]) == limit
        counts[limit] = len(statements)
    assert counts[2] == counts[12]


def test_expired_notices_leave_the_feed_but_still_open(people, tree, api, draft, run_jobs):
    soon = draft(people.staff, tree.a, title="即将过期", expires_at=(utcnow() + timedelta(hours=1)).isoformat())
    stays = draft(people.staff, tree.a, title="长期有效")
    for notice in (soon, stays):
        _publish(api, people.staff, notice["id"])
    run_jobs()
    assert sorted(item["title"] for item in _feed(api, people.own1)["items"]) == ["即将过期", "长期有效"]
    with atomic():
        database.session.execute(
            sa.update(Notice).where(Notice.public_id == soon["id"]).values(expires_at=sa.func.now() - timedelta(1))
        )
    assert [item["title"] for item in _feed(api, people.own1)["items"]] == ["长期有效"]
    assert api(people.own1, "get", f"/api/v1/notices/{soon['id']}").status_code == 200


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ({"expires_at": "2020-01-01T00:00:00+08:00"}, "expiry_invalid"),
        ({"channel": "gossip"}, "validation_failed"),
        ({"expires_at": "2030-01-01T00:00:00"}, "validation_failed"),
    ],
)
def test_bad_channel_or_expiry_is_refused(people, tree, api, fields, code):
    body = {"region_id": tree.a.public_id, "title": "x", "body": "y", **fields}
    response = api(people.staff, "post", "/api/v1/notices", json=body)
    assert response.status_code == 422
    assert response.json["code"] == code


def test_scheduled_notice_expiring_before_it_goes_out_is_refused(people, tree, api, draft):
    notice = draft(people.staff, tree.a, expires_at=(utcnow() + timedelta(hours=1)).isoformat())
    later = (utcnow() + timedelta(hours=2)).isoformat()
    response = api(people.staff, "post", f"/api/v1/notices/{notice['id']}/publish", json={"publish_at": later})
    assert response.status_code == 422
    assert response.json["code"] == "expiry_invalid"


def test_markdown_is_rendered_and_sanitised(people, tree, api, draft, run_jobs):
    body = (
        "# 停水\n\n**周六** 9:00 停水。<script>alert(1)</script>\n\n"
        "[详情](https://example.cn/a) [坏链接](javascript:alert(1)) <img src=x onerror=alert(1)>\n\n"
        "| 时间 | 区域 |\n|:--|--:|\n| 9:00 | 1号楼 |"
    )
    notice = draft(people.staff, tree.a, body=body)
    _publish(api, people.staff, notice["id"])
    run_jobs()
    opened = api(people.own1, "get", f"/api/v1/notices/{notice['id']}").json
    html = opened["body_html"]
    assert opened["body"] == body
    for fragment in ("<h1>停水</h1>", "<strong>周六</strong>", "<table>", 'href="https://example.cn/a"'):
        assert fragment in html
    assert 'rel="noopener noreferrer nofollow"' in html
    # Raw HTML and the javascript: link stay text: no tag, attribute or link comes out of them.
    for fragment in ("<script", "<img", 'href="javascript'):
        assert fragment not in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html
    assert opened["summary"].startswith("停水 周六 9:00 停水。")
    inbox = api(people.own1, "get", "/api/v1/me/inbox").json["items"]
    assert "**" not in inbox[0]["body"]


def test_withdrawing_retracts_the_inbox_rows_and_unsent_messages(people, tree, api, draft, run_jobs):
    notice = draft(people.staff, tree.a)
    _publish(api, people.staff, notice["id"])
    run_jobs()
    delivery = database.session.scalar(sa.select(Delivery).where(Delivery.source_id == notice["id"]))
    with atomic():
        database.session.add(Message(delivery_id=delivery.id, user_id=people.own1.id, channel="wechat"))
    assert len(api(people.own1, "get", "/api/v1/me/inbox").json["items"]) == 1
    api(people.staff, "post", f"/api/v1/notices/{notice['id']}/withdraw", json={"reason": "发错了"})
    assert api(people.own1, "get", "/api/v1/me/inbox").json["items"] == []
    assert api(people.daughter, "get", "/api/v1/me/inbox").json["items"] == []
    assert _feed(api, people.own1)["items"] == []
    message = database.session.scalar(sa.select(Message).where(Message.delivery_id == delivery.id))
    database.session.refresh(message)
    assert (message.status, message.reason) == (MessageStatus.skipped, "retracted")


def test_retract_stops_a_send_still_fanning_out(people, tree, api, draft, run_jobs):
    notice = draft(people.staff, tree.a)
    _publish(api, people.staff, notice["id"])  # not fanned out yet: no run_jobs
    with atomic():
        assert push.retract(("notice", notice["id"])) == 0
    run_jobs()
    assert database.session.scalar(sa.select(sa.func.count()).select_from(InboxItem)) == 0
    delivery = database.session.scalar(sa.select(Delivery).where(Delivery.source_id == notice["id"]))
    database.session.refresh(delivery)
    assert delivery.fanned_out_at is not None
    with atomic():
        assert push.retract(("notice", "no-such-notice")) == 0


def test_a_draft_changes_channel_pin_and_expiry(people, tree, api, draft):
    notice = draft(people.staff, tree.a)
    assert (notice["channel"], notice["pinned"], notice["expires_at"]) == ("announcement", False, None)
    expires = (utcnow() + timedelta(days=3)).replace(microsecond=0)
    edited = api(
        people.staff,
        "patch",
        f"/api/v1/notices/{notice['id']}",
        json={"channel": "activity", "pinned": True, "expires_at": expires.isoformat()},
    )
    assert edited.status_code == 200, edited.json
    assert (edited.json["channel"], edited.json["channel_name"], edited.json["pinned"]) == (
        "activity",
        "社区活动",
        True,
    )
    assert edited.json["expires_at"].endswith("+08:00")
    listed = api(people.staff, "get", "/api/v1/notices", query_string={"channel": "activity"}).json["items"]
    assert [item["id"] for item in listed] == [notice["id"]]
    assert api(people.staff, "get", "/api/v1/notices", query_string={"channel": "organization"}).json["items"] == []


def _inbox_scans(plan: dict, inside_mine: bool = False) -> list[bool]:
    """For each scan of ``push_inbox`` in an EXPLAIN plan: whether it runs inside the CTE ``mine``."""
    inside_mine = inside_mine or plan.get("Subplan Name") == "CTE mine"
    found = [inside_mine] if plan.get("Relation Name") == "push_inbox" else []
    for child in plan.get("Plans", []):
        found += _inbox_scans(child, inside_mine)
    return found


def test_the_feed_reads_the_callers_inbox_rows_first(app, people, tree, api, draft, run_jobs):
    """Never the inbox from the deliveries' side: that path reads every row of a notice's delivery (the whole
    district's, for a district-wide notice) to find the caller's, which PostgreSQL chose on stale statistics."""
    for title in ("停电通知", "疫苗接种"):
        _publish(api, people.staff, draft(people.staff, tree.a, title=title)["id"])
    run_jobs()
    api(people.own1, "get", f"/api/v1/notices/{_feed(api, people.own1)['items'][0]['id']}")  # one read, one not
    sent: list[tuple[str, object]] = []

    def capture(_conn, _cursor, statement, parameters, _context, _many) -> None:
        if "push_inbox" in statement:
            sent.append((statement, parameters))

    sa.event.listen(database.engine, "before_cursor_execute", capture)
    try:
        feed = _feed(api, people.own1)
    finally:
        sa.event.remove(database.engine, "before_cursor_execute", capture)
    assert {item["title"] for item in feed["items"]} == {"停电通知", "疫苗接种"}
    assert sorted(item["read"] for item in feed["items"]) == [False, True]
    assert len(sent) == 2  # the page and the read states
    for statement, parameters in sent:
        (plan,) = (
            database.session.connection().exec_driver_sql(f"EXPLAIN (FORMAT JSON) {statement}", parameters).scalar()
        )
        scans = _inbox_scans(plan["Plan"])
        assert scans, statement
        assert all(scans), f"push_inbox read outside the caller's rows: {statement}"
