"""Notices end to end: drafts, permissions, publishing now and on schedule, read receipts, withdrawal."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from app.db import atomic, utcnow
from app.extensions import db as database
from app.outbox import OutboxRow, OutboxStatus
from app.push.models import Delivery, InboxItem
from notices.models import Notice, NoticeStatus
from notices.services import publish_due_notice


def _notice(public_id: str) -> Notice:
    return database.session.scalar(
        sa.select(Notice).where(Notice.public_id == public_id).execution_options(populate_existing=True)
    )


def _deliveries(public_id: str) -> list[Delivery]:
    return list(
        database.session.scalars(
            sa.select(Delivery).where(Delivery.source_kind == "notice", Delivery.source_id == public_id)
        )
    )


def test_publish_now_reaches_the_audience_and_read_stats_count_residents(people, tree, api, draft, run_jobs):
    notice = draft(people.staff, tree.a)
    response = api(people.staff, "post", f"/api/v1/notices/{notice['id']}/publish", json={})
    assert response.status_code == 200, response.json
    assert response.json["status"] == "published"
    run_jobs()

    # One inbox row per recipient: own accounts for 甲 and 乙, the daughter's for the elder, none for 独居.
    rows = database.session.execute(
        sa.select(InboxItem.user_id, InboxItem.via).join(InboxItem.delivery).where(Delivery.source_id == notice["id"])
    ).all()
    assert sorted((user_id, via.value) for user_id, via in rows) == sorted(
        [(people.own1.id, "self"), (people.own2.id, "self"), (people.daughter.id, "delegate")]
    )
    assert len(_deliveries(notice["id"])) == 1

    assert api(people.own1, "get", f"/api/v1/notices/{notice['id']}").status_code == 200
    opened = api(people.daughter, "get", f"/api/v1/notices/{notice['id']}")
    assert opened.status_code == 200
    assert opened.json["title"] == "停水通知"
    assert "audience" not in opened.json

    stats = api(people.staff, "get", f"/api/v1/notices/{notice['id']}/stats")
    assert stats.status_code == 200, stats.json
    body = stats.json
    assert (body["audience"], body["reached"], body["read"], body["unread"], body["unreachable"]) == (4, 3, 2, 1, 1)
    assert [item["real_name"] for item in body["unreachable_residents"]["items"]] == ["独居"]

    unread = api(people.staff, "get", f"/api/v1/notices/{notice['id']}/unread")
    assert unread.status_code == 200, unread.json
    assert [(item["real_name"], item["addresses"]) for item in unread.json["items"]] == [
        ("乙", ["幸福社区 · 幸福家园 · 1号楼 · 1单元 · 102"])
    ]


def test_resident_outside_the_audience_gets_404(people, tree, api, draft, run_jobs):
    notice = draft(people.staff, tree.a)
    api(people.staff, "post", f"/api/v1/notices/{notice['id']}/publish", json={})
    run_jobs()
    assert api(people.outsider, "get", f"/api/v1/notices/{notice['id']}").status_code == 404
    # The daughter lives in B but holds the elder's delegation: she may open it.
    assert api(people.daughter, "get", f"/api/v1/notices/{notice['id']}").status_code == 200


def test_tag_audience_reaches_only_the_elder(people, tree, api, draft, run_jobs):
    notice = draft(people.staff, tree.a, audience={"tags": ["elderly"]})
    response = api(people.staff, "post", f"/api/v1/notices/{notice['id']}/publish", json={})
    assert response.json["audience"]["summary"] == "高龄"
    run_jobs()
    assert api(people.own1, "get", f"/api/v1/notices/{notice['id']}").status_code == 404
    assert api(people.daughter, "get", f"/api/v1/notices/{notice['id']}").status_code == 200
    stats = api(people.staff, "get", f"/api/v1/notices/{notice['id']}/stats").json
    assert (stats["audience"], stats["reached"], stats["read"]) == (1, 1, 1)


def test_a_draft_is_not_visible_to_residents(people, tree, api, draft):
    notice = draft(people.staff, tree.a)
    assert api(people.own1, "get", f"/api/v1/notices/{notice['id']}").status_code == 404


def test_staff_of_another_community_get_404(people, tree, api, draft, make_staff):
    notice = draft(people.staff, tree.a)
    other = make_staff(tree.b)
    for method, path in (
        ("get", ""),
        ("get", "/stats"),
        ("get", "/unread"),
        ("post", "/publish"),
        ("post", "/withdraw"),
        ("patch", ""),
    ):
        kwargs = {"json": {}} if method != "get" else {}
        response = api(other, method, f"/api/v1/notices/{notice['id']}{path}", **kwargs)
        assert response.status_code == 404, (method, path, response.json)
    assert api(other, "get", "/api/v1/notices").json["items"] == []
    response = api(other, "post", "/api/v1/notices", json={"region_id": tree.a.public_id, "title": "x", "body": "y"})
    assert response.status_code == 404


def test_street_staff_post_to_a_community_under_them_and_see_its_notices(people, tree, api, draft, make_staff):
    street_staff = make_staff(tree.street)
    notice = draft(street_staff, tree.street, audience={"communities": [tree.a.public_id]})
    own = draft(people.staff, tree.a)
    listed = [item["id"] for item in api(street_staff, "get", "/api/v1/notices").json["items"]]
    # Both created in the test's one transaction: same created_at, so compare as sets.
    assert sorted(listed) == sorted([own["id"], notice["id"]])
    # Community staff do not see the street's notice (it is posted above them).
    assert [item["id"] for item in api(people.staff, "get", "/api/v1/notices").json["items"]] == [own["id"]]
    response = api(
        street_staff,
        "post",
        "/api/v1/notices",
        json={
            "region_id": tree.a.public_id,
            "title": "x",
            "body": "y",
            "audience": {"buildings": [tree.building_b.public_id]},
        },
    )
    assert response.status_code == 422
    assert response.json["code"] == "audience_invalid"


def test_grid_worker_reads_lists_and_stats_but_cannot_post(people, tree, api, draft, make_staff):
    grid = make_staff(tree.a, role="grid_worker")
    notice = draft(people.staff, tree.a)
    assert api(grid, "get", "/api/v1/notices").status_code == 200
    assert api(grid, "get", f"/api/v1/notices/{notice['id']}/stats").status_code == 200
    assert api(grid, "get", f"/api/v1/notices/{notice['id']}/unread").status_code == 200
    assert api(grid, "get", f"/api/v1/notices/{notice['id']}").status_code == 200
    response = api(grid, "post", "/api/v1/notices", json={"region_id": tree.a.public_id, "title": "x", "body": "y"})
    assert response.status_code == 403
    assert api(grid, "post", f"/api/v1/notices/{notice['id']}/publish", json={}).status_code == 403


def test_scheduled_notice_publishes_once_when_due_even_if_the_job_runs_twice(people, tree, api, draft, run_jobs):
    notice = draft(people.staff, tree.a)
    publish_at = (utcnow() + timedelta(hours=2)).isoformat()
    response = api(people.staff, "post", f"/api/v1/notices/{notice['id']}/publish", json={"publish_at": publish_at})
    assert response.status_code == 200, response.json
    assert response.json["status"] == "scheduled"
    run_jobs()
    assert _notice(notice["id"]).status is NoticeStatus.scheduled
    assert _deliveries(notice["id"]) == []

    # Make it due: the notice's time and its outbox row, by SQL (never sleep).
    row = database.session.scalar(
        sa.select(OutboxRow).where(OutboxRow.key == f"notices:publish:{_notice(notice['id']).id}")
    )
    with atomic():
        database.session.execute(
            sa.update(Notice)
            .where(Notice.public_id == notice["id"])
            .values(publish_at=sa.func.now() - timedelta(seconds=1))
        )
        database.session.execute(
            sa.update(OutboxRow).where(OutboxRow.id == row.id).values(run_at=sa.func.now() - timedelta(seconds=1))
        )
    run_jobs()
    published = _notice(notice["id"])
    assert published.status is NoticeStatus.published
    database.session.refresh(row)
    assert row.status is OutboxStatus.done

    # The job runs again (at-least-once delivery): nothing more is sent.
    with atomic():
        publish_due_notice(published.id)
    run_jobs()
    assert len(_deliveries(notice["id"])) == 1
    assert api(people.own1, "get", f"/api/v1/notices/{notice['id']}").status_code == 200
    assert api(people.staff, "get", f"/api/v1/notices/{notice['id']}/stats").json["reached"] == 3


def test_publish_time_in_the_past_is_refused(people, tree, api, draft):
    notice = draft(people.staff, tree.a)
    past = (utcnow() - timedelta(minutes=1)).isoformat()
    response = api(people.staff, "post", f"/api/v1/notices/{notice['id']}/publish", json={"publish_at": past})
    assert response.status_code == 422
    assert response.json["code"] == "publish_time_in_past"


def test_withdrawing_hides_the_notice_from_residents(people, tree, api, draft, run_jobs):
    notice = draft(people.staff, tree.a)
    api(people.staff, "post", f"/api/v1/notices/{notice['id']}/publish", json={})
    run_jobs()
    assert api(people.own1, "get", f"/api/v1/notices/{notice['id']}").status_code == 200
    response = api(people.staff, "post", f"/api/v1/notices/{notice['id']}/withdraw", json={"reason": "发错了"})
    assert response.status_code == 200
    assert response.json["status"] == "withdrawn"
    assert api(people.own1, "get", f"/api/v1/notices/{notice['id']}").status_code == 404
    assert api(people.staff, "get", f"/api/v1/notices/{notice['id']}").json["status"] == "withdrawn"
    again = api(people.staff, "post", f"/api/v1/notices/{notice['id']}/withdraw", json={})
    assert again.status_code == 409


def test_a_withdrawn_scheduled_notice_never_goes_out(people, tree, api, draft, run_jobs):
    notice = draft(people.staff, tree.a)
    publish_at = (utcnow() + timedelta(hours=1)).isoformat()
    api(people.staff, "post", f"/api/v1/notices/{notice['id']}/publish", json={"publish_at": publish_at})
    assert api(people.staff, "post", f"/api/v1/notices/{notice['id']}/withdraw", json={}).status_code == 200
    with atomic():
        database.session.execute(
            sa.update(OutboxRow)
            .where(OutboxRow.key == f"notices:publish:{_notice(notice['id']).id}")
            .values(run_at=sa.func.now() - timedelta(seconds=1))
        )
    run_jobs()
    assert _notice(notice["id"]).status is NoticeStatus.withdrawn
    assert _deliveries(notice["id"]) == []


def test_only_drafts_are_edited_or_published(people, tree, api, draft):
    notice = draft(people.staff, tree.a)
    edited = api(
        people.staff, "patch", f"/api/v1/notices/{notice['id']}", json={"title": "停水通知（更正）", "urgent": True}
    )
    assert edited.status_code == 200
    assert (edited.json["title"], edited.json["urgent"]) == ("停水通知（更正）", True)
    api(people.staff, "post", f"/api/v1/notices/{notice['id']}/publish", json={})
    assert api(people.staff, "patch", f"/api/v1/notices/{notice['id']}", json={"title": "x"}).status_code == 409
    assert api(people.staff, "post", f"/api/v1/notices/{notice['id']}/publish", json={}).status_code == 409
