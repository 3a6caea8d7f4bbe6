"""邻里圈：话题、评论、群组、活动"""

from app.api import Blueprint

blp = Blueprint("neighbours", __name__, url_prefix="/api/v1/neighbours", description="邻里圈：话题、评论、群组、活动")

__all__ = ["blp"]
