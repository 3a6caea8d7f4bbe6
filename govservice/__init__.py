"""政务服务：办事指南、窗口预约、网上申办、投诉建议"""

from app.api import Blueprint

blp = Blueprint(
    "govservice",
    __name__,
    url_prefix="/api/v1/govservice",
    description="政务服务：办事指南、窗口预约、网上申办、投诉建议",
)

__all__ = ["blp"]
