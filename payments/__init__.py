"""支付：微信支付、支付宝"""

from app.api import Blueprint

blp = Blueprint("payments", __name__, url_prefix="/api/v1/payments", description="支付：微信支付、支付宝")

__all__ = ["blp"]
