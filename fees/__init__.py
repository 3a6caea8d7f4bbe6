"""物业及其他费用：账单、收据、催缴"""

from app.api import Blueprint

blp = Blueprint("fees", __name__, url_prefix="/api/v1/fees", description="物业及其他费用：账单、收据、催缴")

__all__ = ["blp"]
