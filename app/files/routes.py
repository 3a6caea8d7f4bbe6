"""File endpoints: upload, metadata with a fresh URL, private bytes by signed URL, public bytes by plain URL."""

from __future__ import annotations

from flask import Response, request, send_file
from flask.views import MethodView
from webargs.multidictproxy import MultiDictProxy
from werkzeug.datastructures import CombinedMultiDict

from app.api import Blueprint, Parser
from app.auth import current_user, require
from app.files import services
from app.files.models import StoredFile
from app.files.schemas import FileSchema, FileUploadSchema, SignedUrlArgsSchema
from app.ratelimit import limit_from_setting

blp = Blueprint("files", __name__, url_prefix="/api/v1/files", description="文件上传与下载")

#: Public files (listing photos, post images) never change under one id; a day keeps CDNs useful while a
#: moderated image still drops out of caches soon.
PUBLIC_MAX_AGE = 86400

_BINARY = {"schema": {"type": "string", "format": "binary"}}
_CONTENT_DOC = {
    "responses": {
        "200": {
            "description": "The file's bytes, inline, with its recognised type",
            "content": dict.fromkeys(services.ALLOWED_TYPES, _BINARY),
        }
    }
}


class _MultipartParser(Parser):
    """Reads ``location="files"`` as the whole multipart body, file parts and plain fields together.

    webargs reads ``files`` and ``form`` apart, and flask-smorest documents only one request body per view, so
    one schema over both keeps the upload's OpenAPI entry right (``multipart/form-data`` with file and
    visibility). Set on this blueprint only.
    """

    def load_files(self, req, schema):
        return MultiDictProxy(CombinedMultiDict([req.files, req.form]), schema)


blp.ARGUMENTS_PARSER = _MultipartParser()


def _send(stored: StoredFile) -> Response:
    """Stream the bytes with their sniffed type, inline, never sniffed again by the browser; the stream is closed
    when the response is (also on 304 and 416)."""
    stream = services.open_content(stored)
    try:
        response = send_file(
            stream,
            mimetype=stored.content_type,
            as_attachment=False,
            download_name=stored.filename,
            etag=stored.sha256,
            last_modified=stored.created_at,
            conditional=False,
        )
        response.content_length = stored.size
        response = response.make_conditional(request.environ, accept_ranges=True, complete_length=stored.size)
    except BaseException:  # 416 for a bad Range included: no response will own the stream
        stream.close()
        raise
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


@blp.route("")
class Files(MethodView):
    @blp.arguments(FileUploadSchema, location="files")
    @blp.response(201, FileSchema)
    @require()
    @limit_from_setting("FILES_UPLOAD_RATE_LIMIT")
    def post(self, data):
        """Upload an image or PDF

        The type is recognised from the bytes (JPEG, PNG, WebP, GIF, PDF); the file is private unless
        `visibility=public`. The answer carries a URL: signed and short-lived for a private file. At most
        `FILES_UPLOAD_RATE_LIMIT` uploads per account (429 `rate_limited`).
        """
        upload, user = data["file"], current_user()
        stored = services.upload_file(
            user=user, stream=upload.stream, filename=upload.filename, visibility=data["visibility"]
        )
        return services.describe_file(stored, user=user)


@blp.route("/<string:public_id>")
class FileById(MethodView):
    @blp.response(200, FileSchema)
    @require()
    def get(self, public_id: str):
        """File details with a fresh URL

        For the uploader, anyone for a public file, and whoever the owning record lets read it; 404 otherwise.
        """
        user = current_user()
        return services.describe_file(services.get_file(public_id, user=user), user=user)


@blp.route("/<string:public_id>/content")
class FileContent(MethodView):
    @blp.arguments(SignedUrlArgsSchema, location="query")
    @blp.doc(**_CONTENT_DOC)
    @require(public=True)
    def get(self, args, public_id: str):
        """File bytes by signed URL

        The URL comes from the upload answer or `GET /files/{public_id}`; it stops working after `FILE_URL_TTL`
        seconds (403 `file_url_expired`), and any change to it makes it invalid (403 `file_url_invalid`).
        """
        stored, seconds_left = services.get_signed_file(
            public_id, expires=args["expires"], user_public_id=args["u"], sig=args["sig"]
        )
        response = _send(stored)
        response.cache_control.no_cache = None
        response.cache_control.private = True
        response.cache_control.max_age = seconds_left
        # The URL is a credential while it lives: keep it out of Referer headers sent from a PDF's links.
        response.headers["Referrer-Policy"] = "no-referrer"
        return response


@blp.route("/<string:public_id>/public")
class PublicFileContent(MethodView):
    @blp.doc(**_CONTENT_DOC)
    @require(public=True)
    def get(self, public_id: str):
        """Public file bytes

        Listing photos and post images; a private file answers 404 here.
        """
        response = _send(services.get_public_file(public_id))
        response.cache_control.no_cache = None
        response.cache_control.public = True
        response.cache_control.max_age = PUBLIC_MAX_AGE
        return response
