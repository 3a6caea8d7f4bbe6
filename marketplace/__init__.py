"""社区商城：生鲜、维修、智能柜取货"""

from app.api import Blueprint

blp = Blueprint(
    "marketplace", __name__, url_prefix="/api/v1/marketplace", description="社区商城：生鲜、维修、智能柜取货"
)

__all__ = ["blp"]
