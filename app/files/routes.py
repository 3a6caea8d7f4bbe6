"""File endpoints (filled in by the files work)."""

from app.api import Blueprint

blp = Blueprint("files", __name__, url_prefix="/api/v1/files", description="文件上传与下载")
