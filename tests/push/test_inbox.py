"""The inbox: my messages by cursor, the unread count, marking one or all read, and who may see what."""

import pytest
import sqlalchemy as sa

from app import push
from app.db import atomic
from app.extensions import db as database
from app.push.models import InboxItem
from tests.push.conftest import fan_out_now

pytestmark = pytest.mark.usefixtures("both_paths")


NOTICE = {"title": "通知", "summary": "内容", "published_at": "2026-11-23 09:00"}


def _notify(resident, n: int) -> None:
    for i in range(n):
        with atomic():
            receipt = push.send(
                "test.notice", [resident.id], {**NOTICE, "title": f"通知{i}"}, source=("notice", f"n{i}")
            )
        fan_out_now(receipt)


def test_my_inbox_pages_by_cursor_newest_first_with_the_unread_count(db, person, api):
    user, resident = person("林")
    _notify(resident, 5)
    first = api(user, "get", "/api/v1/me/inbox?limit=2")
    assert first.status_code == 200, first.json
    assert first.json["unread_count"] == 5
    seen = [item["title"] for item in first.json["items"]]
    cursor = first.json["next_cursor"]
    while cursor:
        page = api(user, "get", f"/api/v1/me/inbox?limit=2&cursor={cursor}")
        seen += [item["title"] for item in page.json["items"]]
        cursor = page.json["next_cursor"]
    assert sorted(seen) == [f"通知{i}" for i in range(5)]
    assert len(set(seen)) == 5
    item = first.json["items"][0]
    assert item["for_resident"] is None
    assert item["created_at"].endswith("+08:00")
    assert item["read_at"] is None


def test_marking_one_read_is_idempotent_and_counts_down(db, person, api):
    user, resident = person("林")
    _notify(resident, 2)
    item_id = api(user, "get", "/api/v1/me/inbox").json["items"][0]["id"]
    read = api(user, "post", f"/api/v1/me/inbox/{item_id}/read")
    assert read.status_code == 200, read.json
    first_read_at = read.json["read_at"]
    assert first_read_at is not None
    again = api(user, "post", f"/api/v1/me/inbox/{item_id}/read")
    assert again.json["read_at"] == first_read_at
    inbox = api(user, "get", "/api/v1/me/inbox").json
    assert inbox["unread_count"] == 1
    unread = api(user, "get", "/api/v1/me/inbox?unread=true").json
    assert [item["id"] for item in unread["items"]] != [item_id]
    assert len(unread["items"]) == 1


def test_mark_all_read(db, person, api):
    user, resident = person("林")
    _notify(resident, 3)
    marked = api(user, "post", "/api/v1/me/inbox/read-all")
    assert marked.status_code == 200, marked.json
    assert marked.json == {"marked": 3}
    assert api(user, "get", "/api/v1/me/inbox").json["unread_count"] == 0
    assert api(user, "post", "/api/v1/me/inbox/read-all").json == {"marked": 0}


def test_someone_elses_message_is_404_and_anonymous_is_401(db, person, api, client):
    user, resident = person("林")
    other, _resident = person("别人")
    _notify(resident, 1)
    item_id = api(user, "get", "/api/v1/me/inbox").json["items"][0]["id"]
    answer = api(other, "post", f"/api/v1/me/inbox/{item_id}/read")
    assert (answer.status_code, answer.json["code"]) == (404, "inbox_item_not_found")
    assert api(other, "get", "/api/v1/me/inbox").json["items"] == []
    assert client.get("/api/v1/me/inbox").status_code == 401
    assert database.session.scalar(sa.select(InboxItem.read_at)) is None


def test_a_daughter_acting_for_two_elders_reads_for_each_separately(db, person, delegate, api):
    daughter_user, daughter = person("女儿")
    _none, mother = person("母亲", account=False)
    _none, father = person("父亲", account=False)
    delegate(daughter, mother)
    delegate(daughter, father)
    with atomic():
        receipt = push.send("test.notice", [mother.id, father.id], NOTICE, source=("notice", "both"))
    fan_out_now(receipt)
    items = api(daughter_user, "get", "/api/v1/me/inbox").json["items"]
    assert sorted(item["for_resident"]["id"] for item in items) == sorted([mother.public_id, father.public_id])
    api(daughter_user, "post", f"/api/v1/me/inbox/{items[0]['id']}/read")
    stats = push.read_stats(("notice", "both"))
    assert (stats["reached"], stats["read"], stats["inbox_rows"], stats["read_rows"]) == (2, 1, 2, 1)


def test_a_forged_cursor_is_422(db, person, api):
    user, _resident = person("林")
    answer = api(user, "get", "/api/v1/me/inbox?cursor=not-a-cursor")
    assert answer.status_code == 422
