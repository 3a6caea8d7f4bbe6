"""居家养老：助餐、助浴、陪诊、保洁、跑腿、陪伴"""

from app.api import Blueprint

blp = Blueprint(
    "eldercare", __name__, url_prefix="/api/v1/eldercare", description="居家养老：助餐、助浴、陪诊、保洁、跑腿、陪伴"
)

__all__ = ["blp"]
