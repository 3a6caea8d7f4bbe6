"""物业及其他费用：账单、收据、催缴

Fee items per estate, meter readings, bills generated per household and period, fee orders paid through payments
(payable kind ``fees.fee_order``), receipts numbered without gaps, arrears reminders and the collection dashboard.
"""

from app.api import Blueprint

blp = Blueprint("fees", __name__, url_prefix="/api/v1/fees", description="物业及其他费用：账单、收据、催缴")

from fees import arrears as _arrears  # noqa: E402,F401  (registers the reminder schedule)
from fees import demo as _demo  # noqa: E402,F401  (registers the demo seeder)
from fees import models  # noqa: E402,F401  (tables for Alembic and the app)
from fees import payable as _payable  # noqa: E402,F401  (registers the payable kind fees.fee_order)
from fees import routes as _routes  # noqa: E402,F401  (registers the resident views on blp)
from fees import staff_routes as _staff_routes  # noqa: E402,F401  (registers the staff views on blp)
from fees.orders import KIND  # noqa: E402

__all__ = ["KIND", "blp"]
