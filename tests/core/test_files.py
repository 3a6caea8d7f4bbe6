"""Files: uploads sniffed and limited, private bytes behind signed expiring URLs, public bytes by plain URL."""

import io
import struct
import zlib
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import sqlalchemy as sa

from app.extensions import db as database
from app.files import services
from app.files.models import FileVisibility, StoredFile
from app.files.storage import InvalidStorageKey, LocalDiskStorage


def _png() -> bytes:
    """A valid 1×1 PNG, built chunk by chunk."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 6, 0, 0, 0)
    pixels = zlib.compress(b"\x00\xff\x00\x00\xff")
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")


PNG = _png()
# JFIF start (SOI + APP0) and end (EOI): enough for the signature a browser and `filetype` go by.
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00\xff\xd9"
GIF = (
    b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00\x00\x00"
    b",\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;"
)
WEBP = b"RIFF\x1a\x00\x00\x00WEBPVP8L\x0d\x00\x00\x00\x2f\x00\x00\x00\x10\x07\x10\x11\x11\x88\x88\xfe\x07\x00"
PDF = (
    b"%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n2 0 obj << /Type /Pages /Kids [] /Count 0 >> endobj\n"
)
PDF += b"trailer << /Root 1 0 R >>\n%%EOF\n"
HTML = b"<!DOCTYPE html><html><body><script>alert(document.cookie)</script></body></html>"


@pytest.fixture(autouse=True)
def files_root(app, tmp_path, monkeypatch):
    """Every test writes under its own directory."""
    root = tmp_path / "files"
    monkeypatch.setitem(app.config, "FILES_ROOT", str(root))
    return root


@pytest.fixture
def test_records(monkeypatch):
    """A registered owner kind "test_record": ``readers[owner_id]`` is the set of user ids allowed to read."""
    readers: dict[int, set[int]] = {}
    monkeypatch.setitem(
        services.OWNER_KINDS, "test_record", lambda user, owner_id: user.id in readers.get(owner_id, ())
    )
    return readers


@pytest.fixture
def upload(client, auth_header):
    def post(user, data: bytes, filename: str = "photo.png", *, visibility: str | None = None, headers=None):
        form = {"file": (io.BytesIO(data), filename)}
        if visibility is not None:
            form["visibility"] = visibility
        return client.post(
            "/api/v1/files",
            data=form,
            content_type="multipart/form-data",
            headers=headers if headers is not None else auth_header(user),
        )

    return post


def _stored_files() -> list[StoredFile]:
    return list(database.session.scalars(sa.select(StoredFile)))


def _written(root) -> list:
    return [path for path in root.rglob("*") if path.is_file()] if root.exists() else []


def _with_query(url: str, **changes) -> str:
    parts = urlsplit(url)
    query = {key: values[0] for key, values in parse_qs(parts.query).items()}
    query.update(changes)
    query = {key: value for key, value in query.items() if value is not None}
    return f"{parts.path}?{urlencode(query)}"


# --- upload --------------------------------------------------------------------------------------------------


def test_upload_png_returns_id_type_size_and_a_signed_url_that_serves_it(client, db, make_user, upload, files_root):
    user = make_user()
    response = upload(user, PNG, "门牌.png")

    assert response.status_code == 201
    body = response.json
    assert body["content_type"] == "image/png"
    assert body["size"] == len(PNG)
    assert body["visibility"] == "private"
    assert body["filename"] == "门牌.png"
    assert body["attached"] is False
    assert body["created_at"].endswith("+08:00")
    assert "/api/v1/files/" in body["url"]
    assert "/content?" in body["url"]
    assert "sig=" in body["url"]
    assert body["url_expires_at"] is not None
    assert len(_written(files_root)) == 1

    with client.get(body["url"]) as served:  # no Authorization: an <img src> cannot send one
        assert served.status_code == 200
        assert served.data == PNG
        assert served.headers["Content-Type"] == "image/png"
        assert served.headers["X-Content-Type-Options"] == "nosniff"
        assert served.headers["Content-Disposition"].startswith("inline;")
        assert "filename*=UTF-8''%E9%97%A8%E7%89%8C.png" in served.headers["Content-Disposition"]
        assert "private" in served.headers["Cache-Control"]


@pytest.mark.parametrize(
    ("data", "filename", "content_type"),
    [
        (JPEG, "IMG_0001.JPG", "image/jpeg"),
        (JPEG, "scan.jpeg", "image/jpeg"),
        (PDF, "申请表.pdf", "application/pdf"),
        (GIF, "wave.gif", "image/gif"),
        (WEBP, "sticker.webp", "image/webp"),
    ],
)
def test_upload_accepts_images_and_pdf_by_their_bytes(client, db, make_user, upload, data, filename, content_type):
    response = upload(make_user(), data, filename)
    assert response.status_code == 201, response.json
    assert response.json["content_type"] == content_type
    with client.get(response.json["url"]) as served:
        assert served.status_code == 200
        assert served.headers["Content-Type"] == content_type
        assert served.data == data


def test_upload_ignores_the_type_the_client_claims(client, db, make_user, auth_header):
    form = {"file": (io.BytesIO(PNG), "photo.png", "application/pdf")}
    response = client.post("/api/v1/files", data=form, headers=auth_header(make_user()))
    assert response.status_code == 201
    assert response.json["content_type"] == "image/png"


def test_html_renamed_jpg_is_refused_with_a_clear_message(db, make_user, upload, files_root):
    response = upload(make_user(), HTML, "cute-cat.jpg")
    assert response.status_code == 415
    assert response.json["code"] == "file_type_not_allowed"
    assert response.json["message"] == "只能上传 JPEG、PNG、WebP、GIF 图片或 PDF 文件"
    assert _stored_files() == []
    assert _written(files_root) == []


def test_extension_naming_another_type_is_refused(db, make_user, upload):
    response = upload(make_user(), PNG, "scan.pdf")
    assert response.status_code == 415
    assert response.json["code"] == "file_type_mismatch"
    assert response.json["details"] == {"extension": "pdf", "detected": "image/png"}


def test_filename_is_sanitised_and_given_the_right_extension(db, make_user, upload):
    user = make_user()
    assert upload(user, PDF, "../../etc/报告<1>.PDF").json["filename"] == "报告1.pdf"
    assert upload(user, PNG, "/storage/emulated/0/DCIM/IMG_2024.06.01").json["filename"] == "IMG_2024.06.01.png"
    assert upload(user, PNG, ".").json["filename"] == "file.png"


def test_empty_file_is_refused(db, make_user, upload):
    response = upload(make_user(), b"", "empty.png")
    assert response.status_code == 422
    assert response.json["code"] == "file_empty"


def test_missing_file_part_is_a_validation_error(client, db, make_user, auth_header):
    response = client.post("/api/v1/files", data={"file": "not a file"}, headers=auth_header(make_user()))
    assert response.status_code == 422
    assert response.json["code"] == "validation_failed"
    assert "file" in response.json["details"]["fields"]["files"]


def test_oversized_upload_is_refused_with_413(app, db, make_user, upload, monkeypatch, files_root):
    monkeypatch.setitem(app.config, "MAX_UPLOAD_BYTES", len(PNG) + 10)
    response = upload(make_user(), PNG + b"\x00" * 11, "big.png")
    assert response.status_code == 413
    assert response.json["code"] == "payload_too_large"
    assert response.json["details"]["max_bytes"] == len(PNG) + 10
    assert _stored_files() == []
    assert _written(files_root) == []


def test_body_beyond_the_request_limit_gets_the_same_413_body(app, db, make_user, upload, monkeypatch):
    monkeypatch.setitem(app.config, "MAX_CONTENT_LENGTH", 2048)
    response = upload(make_user(), PNG + b"\x00" * 4096, "huge.png")
    assert response.status_code == 413
    assert response.json["code"] == "payload_too_large"
    assert response.json["message"] == "上传内容过大"


def test_anonymous_upload_is_401(db, upload):
    response = upload(None, PNG, headers={})
    assert response.status_code == 401
    assert response.json["code"] == "unauthenticated"


# --- signed URLs ---------------------------------------------------------------------------------------------


@pytest.fixture
def private_file(db, make_user, upload):
    user = make_user("上传者")
    body = upload(user, PNG).json
    return user, body


def test_private_file_needs_a_signature(client, private_file):
    _, body = private_file
    response = client.get(f"/api/v1/files/{body['id']}/content")
    assert response.status_code == 403
    assert response.json["code"] == "file_url_invalid"
    assert response.json["message"] == "文件链接无效"


@pytest.mark.parametrize(
    "change",
    [
        {"sig": "A" * 43},
        {"expires": "4102444800"},  # a later expiry
        {"u": "someone-else"},
        {"sig": None},
    ],
)
def test_changed_signed_url_is_refused(client, private_file, change):
    _, body = private_file
    response = client.get(_with_query(body["url"], **change))
    assert response.status_code == 403
    assert response.json["code"] == "file_url_invalid"


def test_signature_of_one_file_does_not_open_another(client, db, make_user, upload):
    user = make_user()
    first, second = upload(user, PNG).json, upload(user, PDF, "b.pdf").json
    response = client.get(_with_query(first["url"]).replace(first["id"], second["id"]))
    assert response.status_code == 403
    assert response.json["code"] == "file_url_invalid"


def test_signed_url_lasts_the_configured_ttl(app, private_file):
    from datetime import datetime

    _, body = private_file
    expires = int(parse_qs(urlsplit(body["url"]).query)["expires"][0])
    issued_until = datetime.fromisoformat(body["url_expires_at"]).timestamp()
    assert expires == issued_until
    created = datetime.fromisoformat(body["created_at"]).timestamp()
    assert 0 < expires - created <= app.config["FILE_URL_TTL"] + 5


def test_expired_signed_url_is_refused(app, client, private_file):
    user, body = private_file
    stored = database.session.scalar(sa.select(StoredFile).where(StoredFile.public_id == body["id"]))
    with app.test_request_context():
        url, _ = services.signed_url(stored, user=user, expires_in=-1)
    response = client.get(url)
    assert response.status_code == 403
    assert response.json["code"] == "file_url_expired"
    assert response.json["message"] == "文件链接已过期，请重新获取"


def test_conditional_request_gets_304(client, private_file):
    _, body = private_file
    with client.get(body["url"]) as first:
        etag = first.headers["ETag"]
    with client.get(body["url"], headers={"If-None-Match": etag}) as second:
        assert second.status_code == 304
        assert second.data == b""


# --- who may see a file --------------------------------------------------------------------------------------


def test_uploader_gets_details_and_a_fresh_working_url(client, auth_header, private_file):
    user, body = private_file
    response = client.get(f"/api/v1/files/{body['id']}", headers=auth_header(user))
    assert response.status_code == 200
    assert response.json["id"] == body["id"]
    assert response.json["sha256"] == body["sha256"]
    with client.get(response.json["url"]) as served:
        assert served.status_code == 200
        assert served.data == PNG


def test_someone_else_gets_404_for_an_unattached_private_file(client, make_user, auth_header, private_file):
    _, body = private_file
    response = client.get(f"/api/v1/files/{body['id']}", headers=auth_header(make_user("路人")))
    assert response.status_code == 404
    assert response.json["code"] == "not_found"
    assert response.json["message"] == "文件不存在"


def test_owning_record_decides_who_else_may_read(client, make_user, auth_header, private_file, test_records):
    uploader, body = private_file
    reader, outsider = make_user("同住人"), make_user("外人")
    services.attach(body["id"], "test_record", 7, by_user=uploader)
    test_records[7] = {reader.id}

    allowed = client.get(f"/api/v1/files/{body['id']}", headers=auth_header(reader))
    assert allowed.status_code == 200
    assert allowed.json["attached"] is True
    assert "owner_id" not in allowed.json  # integer ids never leave the server
    with client.get(allowed.json["url"]) as served:
        assert served.status_code == 200

    refused = client.get(f"/api/v1/files/{body['id']}", headers=auth_header(outsider))
    assert refused.status_code == 404  # outside the record's tenancy: not even a 403


def test_unknown_public_id_is_404_everywhere(client, db, make_user, auth_header):
    headers = auth_header(make_user())
    assert client.get("/api/v1/files/no-such-file", headers=headers).status_code == 404
    assert client.get("/api/v1/files/no-such-file/public").status_code == 404
    assert client.get("/api/v1/files/%00bad/public").status_code == 404


def test_signed_url_to_a_deleted_file_is_404(client, private_file):
    _, body = private_file
    url = body["url"]
    database.session.execute(sa.delete(StoredFile).where(StoredFile.public_id == body["id"]))
    assert client.get(url).status_code == 404


# --- public files --------------------------------------------------------------------------------------------


def test_public_file_is_served_by_plain_url_with_caching(client, db, make_user, upload):
    body = upload(make_user(), JPEG, "菜品.jpg", visibility="public").json
    assert body["visibility"] == "public"
    assert body["url"].endswith(f"/api/v1/files/{body['id']}/public")
    assert body["url_expires_at"] is None

    with client.get(body["url"]) as served:
        assert served.status_code == 200
        assert served.data == JPEG
        assert served.headers["Content-Type"] == "image/jpeg"
        assert served.headers["X-Content-Type-Options"] == "nosniff"
        assert "public" in served.headers["Cache-Control"]
        assert "max-age=86400" in served.headers["Cache-Control"]


def test_public_file_details_are_visible_to_any_signed_in_user(client, db, make_user, upload, auth_header):
    body = upload(make_user(), PNG, visibility="public").json
    response = client.get(f"/api/v1/files/{body['id']}", headers=auth_header(make_user("邻居")))
    assert response.status_code == 200
    assert response.json["url"] == body["url"]


def test_private_file_is_404_at_the_public_url(client, private_file):
    _, body = private_file
    response = client.get(f"/api/v1/files/{body['id']}/public")
    assert response.status_code == 404
    assert response.json["code"] == "not_found"


# --- attach --------------------------------------------------------------------------------------------------


def test_only_the_uploader_attaches_and_only_once(make_user, private_file, test_records):
    from app.files.errors import FileAlreadyAttached, FileNotFound

    uploader, body = private_file
    with pytest.raises(FileNotFound):
        services.attach(body["id"], "test_record", 1, by_user=make_user("别人"))

    stored = services.attach(body["id"], "test_record", 1, by_user=uploader)
    assert (stored.owner_kind, stored.owner_id) == ("test_record", 1)
    assert services.attach(body["id"], "test_record", 1, by_user=uploader).id == stored.id  # a repeat is harmless
    assert [f.public_id for f in services.files_of("test_record", 1)] == [body["id"]]

    with pytest.raises(FileAlreadyAttached):
        services.attach(body["id"], "test_record", 2, by_user=uploader)


def test_attach_to_an_unregistered_kind_is_a_programming_error(private_file):
    uploader, body = private_file
    with pytest.raises(ValueError, match="not registered"):
        services.attach(body["id"], "nobody_registered_this", 1, by_user=uploader)


def test_an_owner_kind_cannot_be_registered_twice(test_records):
    with pytest.raises(ValueError, match="already registered"):
        services.register_owner_kind("test_record", lambda user, owner_id: True)
    with pytest.raises(ValueError, match="snake_case"):
        services.register_owner_kind("Bad Kind", lambda user, owner_id: True)


# --- storage -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("key", ["../escape", "/etc/passwd", "a/../../b", ".hidden", "a//b", "a/./b", "", "a\\b"])
def test_local_storage_refuses_keys_that_could_leave_its_root(tmp_path, key):
    storage = LocalDiskStorage(tmp_path)
    with pytest.raises(InvalidStorageKey):
        storage.put(key, b"x")


def test_local_storage_refuses_a_symlink_out_of_its_root(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    root = tmp_path / "root"
    root.mkdir()
    (root / "link").symlink_to(outside)
    with pytest.raises(InvalidStorageKey):
        LocalDiskStorage(root).put("link/file", b"x")


def test_local_storage_round_trip(tmp_path):
    storage = LocalDiskStorage(tmp_path)
    storage.put("ab/cd/one", b"bytes")
    storage.put("ab/cd/two", io.BytesIO(b"stream"))
    with storage.open("ab/cd/one") as one, storage.open("ab/cd/two") as two:
        assert (one.read(), two.read()) == (b"bytes", b"stream")
    assert storage.exists("ab/cd/one")
    storage.delete("ab/cd/one")
    storage.delete("ab/cd/one")  # deleting twice is fine
    assert not storage.exists("ab/cd/one")
    assert sorted(p.name for p in tmp_path.rglob("*") if p.is_file()) == ["two"]  # no temporary files left


def test_stored_row_records_sha256_and_visibility(db, make_user, upload):
    import hashlib

    user = make_user()
    body = upload(user, PDF, "a.pdf", visibility="public").json
    stored = database.session.scalar(sa.select(StoredFile).where(StoredFile.public_id == body["id"]))
    assert stored.sha256 == hashlib.sha256(PDF).hexdigest()
    assert stored.visibility is FileVisibility.public
    assert stored.uploader_id == user.id
    assert stored.storage_key not in body["url"]


def test_range_requests_are_served_and_bad_ranges_refused(client, private_file):
    _, body = private_file
    with client.get(body["url"], headers={"Range": "bytes=0-7"}) as part:
        assert part.status_code == 206
        assert part.data == PNG[:8]
    with client.get(body["url"], headers={"Range": f"bytes={len(PNG) + 10}-"}) as beyond:
        assert beyond.status_code == 416
