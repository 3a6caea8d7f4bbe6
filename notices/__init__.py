"""社区通知：定向发布、已读回执"""

from app.api import Blueprint

blp = Blueprint("notices", __name__, url_prefix="/api/v1/notices", description="社区通知：定向发布、已读回执")

__all__ = ["blp"]
