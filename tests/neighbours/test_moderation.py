"""Moderation: sensitive words (mask or reject), WeChat's msgSecCheck before publishing, images hidden until the
asynchronous media check's signed callback (a forged one changes nothing), staff review for phone-app authors."""

from __future__ import annotations

import io

import pytest
import sqlalchemy as sa

from app.db import atomic
from app.extensions import db as database
from neighbours.models import SensitiveWord, WordAction
from tests.core.test_files import PDF, PNG
from tests.neighbours.conftest import MESSAGE_TOKEN, POSTS

CALLBACK = "/api/v1/neighbours/wechat/media-check"


@pytest.fixture(autouse=True)
def files_root(app, tmp_path, monkeypatch):
    monkeypatch.setitem(app.config, "FILES_ROOT", str(tmp_path / "files"))


@pytest.fixture
def word():
    def add(text: str, action: str, region=None) -> None:
        with atomic():
            database.session.add(
                SensitiveWord(word=text, action=WordAction(action), region_id=region.id if region else None)
            )
            database.session.flush()

    return add


@pytest.fixture
def upload(client, auth_header):
    def post(user, data: bytes = PNG, *, visibility: str = "private") -> str:
        response = client.post(
            "/api/v1/files",
            data={"file": (io.BytesIO(data), "photo.png" if data is PNG else "doc.pdf"), "visibility": visibility},
            content_type="multipart/form-data",
            headers=auth_header(user),
        )
        assert response.status_code == 201, response.json
        return response.json["id"]

    return post


def _fetch(client, url: str) -> int:
    """GET a file URL and close the streamed body; the status."""
    response = client.get(url)
    response.close()
    return response.status_code


def _outbox_rows() -> list[tuple]:
    """What the outbox holds (for a failure message)."""
    from app.outbox import OutboxRow

    return database.session.execute(sa.select(OutboxRow.job, OutboxRow.status, OutboxRow.last_error)).all()


def _images(api, user, post_id):
    response = api(user, "get", f"{POSTS}/{post_id}")
    assert response.status_code == 200
    return response.json["images"]


# --- words ---------------------------------------------------------------------------------------------------------


def test_a_mask_word_is_masked_and_a_reject_word_refuses(api, db, tree, neighbour, write_post, word):
    word("坏蛋", "mask")
    word("代开发票", "reject", region=tree.street)
    author = neighbour(tree.rooms_a["101"])
    post = write_post(author, "楼下那个坏蛋又乱停车")
    assert post["text"] == "楼下那个**又乱停车"

    refused = api(author, "post", POSTS, json={"topic": "other", "text": "专业代开发票，价格优惠"})
    assert refused.status_code == 422
    assert refused.json["code"] == "content_rejected"
    assert refused.json["details"]["words"] == ["代开发票"]
    assert [p["text"] for p in api(author, "get", POSTS).json["items"]] == ["楼下那个**又乱停车"]
    comment = api(author, "post", f"{POSTS}/{post['id']}/comments", json={"text": "代开发票找我"})
    assert comment.status_code == 422
    assert comment.json["code"] == "content_rejected"


def test_a_region_word_applies_only_under_its_region(api, db, tree, neighbour, write_post, word):
    word("团购群", "reject", region=tree.b)
    write_post(neighbour(tree.rooms_a["101"]), "加个团购群")  # community A: not under B
    refused = api(neighbour(tree.rooms_b["101"]), "post", POSTS, json={"topic": "other", "text": "加个团购群"})
    assert refused.status_code == 422


def test_staff_edit_the_word_list_within_their_region(api, db, tree, make_staff, neighbour, write_post):
    staff = make_staff(tree.a)
    added = api(
        staff,
        "post",
        "/api/v1/neighbours/manage/words",
        json={"word": "黑车", "action": "mask", "region_id": tree.a.public_id},
    )
    assert added.status_code == 201, added.json
    write = write_post(neighbour(tree.rooms_a["101"]), "别坐黑车")
    assert write["text"] == "别坐**"
    outside = api(
        staff,
        "post",
        "/api/v1/neighbours/manage/words",
        json={"word": "x", "action": "mask", "region_id": tree.b.public_id},
    )
    assert outside.status_code == 404
    platform = api(staff, "post", "/api/v1/neighbours/manage/words", json={"word": "y", "action": "mask"})
    assert platform.status_code == 403
    listed = api(staff, "get", "/api/v1/neighbours/manage/words", query_string={"region_id": tree.a.public_id})
    assert [item["word"] for item in listed.json["items"]] == ["黑车"]
    assert api(staff, "delete", f"/api/v1/neighbours/manage/words/{added.json['id']}").status_code == 204
    assert write_post(neighbour(tree.rooms_a["102"]), "别坐黑车")["text"] == "别坐黑车"


# --- msgSecCheck ---------------------------------------------------------------------------------------------------


def test_msg_sec_check_runs_with_the_authors_openid_and_a_risky_answer_refuses(api, db, tree, neighbour, wechat_on):
    author = neighbour(tree.rooms_a["101"], openid="openid-author")
    ok = api(author, "post", POSTS, json={"topic": "help", "text": "求借梯子"})
    assert ok.status_code == 201
    (call,) = wechat_on.calls("/wxa/msg_sec_check")
    assert call.body == {"content": "求借梯子", "version": 2, "scene": 3, "openid": "openid-author"}

    wechat_on.risky_words.add("违禁品")
    refused = api(author, "post", POSTS, json={"topic": "other", "text": "出售违禁品"})
    assert refused.status_code == 422
    assert refused.json["code"] == "content_risky"
    comment = api(author, "post", f"{POSTS}/{ok.json['id']}/comments", json={"text": "违禁品要吗"})
    assert comment.status_code == 422
    assert wechat_on.calls("/wxa/msg_sec_check")[-1].body["scene"] == 2
    assert [p["text"] for p in api(author, "get", POSTS).json["items"]] == ["求借梯子"]


def test_wechat_unreachable_refuses_with_503_and_nothing_is_written(api, db, tree, neighbour, wechat_on):
    author = neighbour(tree.rooms_a["101"], openid="openid-author")
    wechat_on.fail_next = 10
    response = api(author, "post", POSTS, json={"topic": "help", "text": "求借梯子"})
    assert response.status_code == 503
    assert response.json["code"] == "content_check_unavailable"
    wechat_on.fail_next = 0
    assert api(author, "get", POSTS).json["items"] == []


def test_phone_app_authors_skip_msg_sec_check(api, db, tree, neighbour, write_post, wechat_on):
    write_post(neighbour(tree.rooms_a["101"]), "手机 App 发的帖子")
    assert wechat_on.calls("/wxa/msg_sec_check") == []


# --- images --------------------------------------------------------------------------------------------------------


def test_an_image_stays_hidden_until_the_media_check_callback_passes(
    api, client, db, tree, neighbour, upload, wechat_on, run_jobs
):
    author = neighbour(tree.rooms_a["101"], openid="openid-author")
    reader = neighbour(tree.rooms_a["102"])
    image_id = upload(author)
    post = api(author, "post", POSTS, json={"topic": "pets", "text": "我家猫", "image_ids": [image_id]}).json
    assert [(i["id"], i["status"]) for i in _images(api, author, post["id"])] == [(image_id, "pending")]
    assert _images(api, reader, post["id"]) == []
    # The post committed; a job sends the image to WeChat with a URL WeChat can fetch.
    run_jobs()
    assert wechat_on.media_checks, _outbox_rows()
    (check,) = wechat_on.media_checks
    assert check["openid"] == "openid-author"
    assert check["media_url"].startswith("https://linli.example.com/api/v1/files/")
    assert check["scene"] == 3
    assert _images(api, reader, post["id"]) == []

    # A forged callback (wrong token) changes nothing.
    query, body = wechat_on.media_check_push(check["trace_id"], "not-our-token", suggest="pass")
    forged = client.post(CALLBACK, query_string=query, json=body)
    assert forged.status_code == 403
    assert forged.json["code"] == "wechat_signature_invalid"
    unsigned = client.post(CALLBACK, json=body)
    assert unsigned.status_code == 403
    assert _images(api, reader, post["id"]) == []

    query, body = wechat_on.media_check_push(check["trace_id"], MESSAGE_TOKEN, suggest="pass")
    answer = client.post(CALLBACK, query_string=query, json=body)
    assert answer.status_code == 200
    assert answer.get_data(as_text=True) == "success"
    shown = _images(api, reader, post["id"])
    assert [image["id"] for image in shown] == [image_id]
    assert shown[0]["status"] is None
    # The URL works for the reader.
    assert _fetch(client, shown[0]["url"]) == 200
    # A repeat of the callback changes nothing.
    assert client.post(CALLBACK, query_string=query, json=body).status_code == 200


def test_a_risky_image_never_shows(api, client, db, tree, neighbour, upload, wechat_on, run_jobs):
    author = neighbour(tree.rooms_a["101"], openid="openid-author")
    reader = neighbour(tree.rooms_a["102"])
    post = api(author, "post", POSTS, json={"topic": "pets", "text": "图", "image_ids": [upload(author)]}).json
    run_jobs()
    query, body = wechat_on.media_check_push(wechat_on.media_checks[0]["trace_id"], MESSAGE_TOKEN, suggest="risky")
    assert client.post(CALLBACK, query_string=query, json=body).status_code == 200
    assert _images(api, reader, post["id"]) == []
    assert _images(api, author, post["id"]) == []  # rejected: not even the author sees it


def test_the_callback_url_verification_echoes_only_when_signed(client, db, wechat_on):
    from app.wechat import message_signature

    query = {"timestamp": "1700000000", "nonce": "abc", "echostr": "hello"}
    good = client.get(
        CALLBACK, query_string={**query, "signature": message_signature(MESSAGE_TOKEN, "1700000000", "abc")}
    )
    assert good.status_code == 200
    assert good.get_data(as_text=True) == "hello"
    bad = client.get(CALLBACK, query_string={**query, "signature": "0" * 40})
    assert bad.status_code == 403


def test_phone_app_authors_images_wait_for_staff(api, client, db, tree, neighbour, upload, make_staff, wechat_on):
    author = neighbour(tree.rooms_a["101"])  # no openid: signed in by phone
    reader = neighbour(tree.rooms_a["102"])
    image_id = upload(author)
    post = api(author, "post", POSTS, json={"topic": "pets", "text": "图", "image_ids": [image_id]}).json
    assert wechat_on.media_checks == []
    assert _images(api, reader, post["id"]) == []

    staff = make_staff(tree.a)
    queue = api(staff, "get", "/api/v1/neighbours/manage/images", query_string={"community_id": tree.a.public_id})
    assert [item["id"] for item in queue.json["items"]] == [image_id]
    assert queue.json["items"][0]["review"] == "staff"
    assert _fetch(client, queue.json["items"][0]["url"]) == 200  # staff can look at it
    other_staff = make_staff(tree.b)
    assert api(other_staff, "post", f"/api/v1/neighbours/manage/images/{image_id}/approve", json={}).status_code == 404
    approved = api(staff, "post", f"/api/v1/neighbours/manage/images/{image_id}/approve", json={"note": "正常"})
    assert approved.status_code == 200
    assert [image["id"] for image in _images(api, reader, post["id"])] == [image_id]
    again = api(staff, "post", f"/api/v1/neighbours/manage/images/{image_id}/reject", json={})
    assert again.status_code == 409


def test_public_uploads_and_pdfs_are_refused_as_post_images(api, db, tree, neighbour, upload):
    author = neighbour(tree.rooms_a["101"])
    public = api(
        author, "post", POSTS, json={"topic": "pets", "text": "图", "image_ids": [upload(author, visibility="public")]}
    )
    assert public.status_code == 422
    pdf = api(author, "post", POSTS, json={"topic": "pets", "text": "图", "image_ids": [upload(author, PDF)]})
    assert pdf.status_code == 422
    assert api(author, "get", POSTS).json["items"] == []


def test_someone_elses_upload_cannot_be_attached(api, db, tree, neighbour, upload):
    owner = neighbour(tree.rooms_a["101"])
    thief = neighbour(tree.rooms_a["102"])
    response = api(thief, "post", POSTS, json={"topic": "pets", "text": "图", "image_ids": [upload(owner)]})
    assert response.status_code == 404
