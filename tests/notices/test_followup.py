"""The unread-or-unreachable list as CSV (masked phone, audited) and the one reminder to the unread."""

from __future__ import annotations

import csv
import io
import threading

import sqlalchemy as sa

from app.audit import AuditEntry
from app.db import atomic
from app.extensions import db as database
from app.push.models import Delivery, InboxItem
from notices import followup
from notices.errors import ReminderAlreadySent
from tests.conftest import race


def _published(api, staff, draft, region, run_jobs):
    notice = draft(staff, region)
    assert api(staff, "post", f"/api/v1/notices/{notice['id']}/publish", json={}).status_code == 200
    run_jobs()
    return notice


def test_followup_csv_lists_unread_and_unreachable_with_masked_phones(people, tree, api, draft, run_jobs):
    with atomic():
        people.own2.phone, people.own2.phone_verified_at = "+8613812345678", sa.func.now()
    notice = _published(api, people.staff, draft, tree.a, run_jobs)
    api(people.own1, "get", f"/api/v1/notices/{notice['id']}")  # 甲 reads; the daughter has not read for 老张
    response = api(people.staff, "get", f"/api/v1/notices/{notice['id']}/followup/export")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(response.data.decode("utf-8-sig"))))
    assert rows[0] == ["姓名", "住址", "手机号", "状态"]
    by_name = {row[0]: row for row in rows[1:]}
    assert set(by_name) == {"乙", "老张", "独居"}
    assert by_name["乙"][1:] == ["幸福社区 · 幸福家园 · 1号楼 · 1单元 · 102", "138****5678", "未读"]
    assert by_name["独居"][3] == "无法送达"
    assert by_name["老张"][3] == "未读"
    assert "13812345678" not in response.data.decode("utf-8-sig")
    entry = database.session.scalar(sa.select(AuditEntry).where(AuditEntry.action == "notice.export_followup"))
    assert (entry.actor_user_id, entry.target_id, entry.after["rows"]) == (people.staff.id, notice["id"], 3)


def test_followup_export_is_for_staff_of_the_region_only(people, tree, api, draft, run_jobs, make_staff):
    notice = _published(api, people.staff, draft, tree.a, run_jobs)
    path = f"/api/v1/notices/{notice['id']}/followup/export"
    assert api(make_staff(tree.b), "get", path).status_code == 404
    assert api(people.own1, "get", path).status_code == 404
    assert api(make_staff(tree.a, role="grid_worker"), "get", path).status_code == 200


def test_one_reminder_reaches_the_unread_only_and_a_second_is_refused(people, tree, api, draft, run_jobs):
    notice = _published(api, people.staff, draft, tree.a, run_jobs)
    api(people.own1, "get", f"/api/v1/notices/{notice['id']}")
    response = api(people.staff, "post", f"/api/v1/notices/{notice['id']}/remind")
    assert response.status_code == 200, response.json
    assert response.json["reminded"] == 2  # 乙 and 老张 (through the daughter); 甲 read it, 独居 cannot be reached
    run_jobs()
    titles = {
        user.id: [item["title"] for item in api(user, "get", "/api/v1/me/inbox").json["items"]]
        for user in (people.own1, people.own2, people.daughter)
    }
    assert titles[people.own1.id] == ["停水通知"]
    assert set(titles[people.own2.id]) == {"停水通知", "【提醒】停水通知"}
    assert set(titles[people.daughter.id]) == {"停水通知", "【提醒】停水通知"}

    again = api(people.staff, "post", f"/api/v1/notices/{notice['id']}/remind")
    assert again.status_code == 409
    assert again.json["code"] == "reminder_already_sent"

    # Stats still count the first send's audience; opening the notice marks the reminder read too.
    api(people.own2, "get", f"/api/v1/notices/{notice['id']}")
    stats = api(people.staff, "get", f"/api/v1/notices/{notice['id']}/stats").json
    assert (stats["audience"], stats["reached"], stats["read"], stats["unreachable"]) == (4, 3, 2, 1)
    assert api(people.own2, "get", "/api/v1/me/inbox").json["unread_count"] == 0


def test_reminding_a_draft_or_as_a_grid_worker_is_refused(people, tree, api, draft, make_staff):
    notice = draft(people.staff, tree.a)
    response = api(people.staff, "post", f"/api/v1/notices/{notice['id']}/remind")
    assert (response.status_code, response.json["code"]) == (409, "notice_not_published")
    grid = make_staff(tree.a, role="grid_worker")
    assert api(grid, "post", f"/api/v1/notices/{notice['id']}/remind").status_code == 403


def test_concurrent_reminders_send_exactly_one(committed_db, app, make_staff, make_resident, join, run_jobs):
    from notices import services
    from tests.community.fixtures import build_tree

    tree = build_tree()
    staffs = [make_staff(tree.a, name=f"工作人员{i}") for i in range(8)]
    for i in range(3):
        _user, resident = make_resident(f"居民{i}", sequence=f"93{i}")
        join(resident, tree.rooms_a["101"])
    notice = services.create_notice(staffs[0], {"region_id": tree.a.public_id, "title": "停电", "body": "停电"})
    services.publish_notice(staffs[0], notice.public_id)
    run_jobs()
    queue, lock = iter(staffs), threading.Lock()

    def attempt():
        with lock:
            staff = next(queue)
        try:
            return followup.remind_unread(staff, notice.public_id)["reminded"]
        except ReminderAlreadySent:
            return "refused"

    results = race(app, len(staffs), attempt)
    database.session.commit()  # a transaction left open from before the race would make the relay's now() too early
    assert sorted(results, key=str) == sorted([3] + ["refused"] * 7, key=str)
    sends = database.session.scalar(
        sa.select(sa.func.count()).select_from(Delivery).where(Delivery.source_id == notice.public_id)
    )
    assert sends == 2  # the notice and one reminder
    run_jobs()
    assert database.session.scalar(sa.select(sa.func.count()).select_from(InboxItem)) == 6


def test_the_unread_page_costs_the_same_statements_at_any_size(people, tree, api, draft, run_jobs, count_queries):
    with atomic():
        people.own2.phone, people.own2.phone_verified_at = "+8613812345678", sa.func.now()
    notice = _published(api, people.staff, draft, tree.a, run_jobs)
    api(people.own1, "get", f"/api/v1/notices/{notice['id']}")  # 甲 reads: 乙 and 老张 are left
    counts = {}
    for limit in (1, 2):
        with count_queries() as statements:
            page = api(people.staff, "get", f"/api/v1/notices/{notice['id']}/unread", query_string={"limit": limit})
        assert len(page.json["items"]) == limit, page.json
        counts[limit] = len(statements)
    assert counts[1] == counts[2]
    phones = {item["real_name"]: item["phone"] for item in page.json["items"]}
    assert phones == {"乙": "138****5678", "老张": None}
