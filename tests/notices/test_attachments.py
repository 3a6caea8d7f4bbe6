"""Attachments: private files reach the notice's audience and its staff only; creating is idempotent."""

from __future__ import annotations

import io


def _upload(api, user, visibility="private"):
    response = api(
        user,
        "post",
        "/api/v1/files",
        data={"file": (io.BytesIO(b"%PDF-1.4\n%test\n"), "停水安排.pdf"), "visibility": visibility},
        content_type="multipart/form-data",
    )
    assert response.status_code == 201, response.json
    return response.json["id"]


def test_a_private_attachment_is_readable_by_the_audience_only(people, tree, api, draft, run_jobs):
    file_id = _upload(api, people.staff)
    notice = draft(people.staff, tree.a, attachments=[file_id])
    assert [item["id"] for item in notice["attachments"]] == [file_id]
    assert api(people.own1, "get", f"/api/v1/files/{file_id}").status_code == 404
    api(people.staff, "post", f"/api/v1/notices/{notice['id']}/publish", json={})
    run_jobs()
    opened = api(people.own1, "get", f"/api/v1/notices/{notice['id']}").json
    assert opened["attachments"][0]["url"]
    assert api(people.own1, "get", f"/api/v1/files/{file_id}").status_code == 200
    assert api(people.outsider, "get", f"/api/v1/files/{file_id}").status_code == 404


def test_creating_a_notice_with_the_same_idempotency_key_returns_the_first(people, tree, api):
    body = {"region_id": tree.a.public_id, "title": "通知", "body": "正文"}
    headers = {"Idempotency-Key": "notice-create-1"}
    first = api(people.staff, "post", "/api/v1/notices", json=body, headers=dict(headers))
    second = api(people.staff, "post", "/api/v1/notices", json=body, headers=dict(headers))
    assert first.status_code == second.status_code == 201
    assert first.json["id"] == second.json["id"]
