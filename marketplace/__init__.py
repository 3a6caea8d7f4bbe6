"""社区商城：生鲜、维修、智能柜取货"""

from app.api import Blueprint

blp = Blueprint(
    "marketplace", __name__, url_prefix="/api/v1/marketplace", description="社区商城：生鲜、维修、智能柜取货"
)

from marketplace import access as _access  # noqa: E402,F401  (the vendor scope kind and actions)
from marketplace import aftersales_models as _aftersales_models  # noqa: E402,F401  (line accounts, refunds ledger, after-sales, reviews)
from marketplace import aftersales_routes as _aftersales_routes  # noqa: E402,F401  (after-sales, reviews, statements)
from marketplace import demo as _demo  # noqa: E402,F401  (registers the demo seeder)
from marketplace import jobs as _jobs  # noqa: E402,F401  (registers the jobs)
from marketplace import locker_routes as _locker_routes  # noqa: E402,F401  (lockers: tables, views, devices)
from marketplace import models  # noqa: E402,F401  (tables for Alembic and the app)
from marketplace import payable as _payable  # noqa: E402,F401  (registers the payable kind)
from marketplace import routes as _routes  # noqa: E402,F401  (registers the views on blp)
from marketplace import service_demo as _service_demo  # noqa: E402,F401  (registers the repair-shop demo seeder)
from marketplace import service_models as _service_models  # noqa: E402,F401  (service listings and bookings)
from marketplace import service_payable as _service_payable  # noqa: E402,F401  (registers marketplace.service_order)
from marketplace import service_routes as _service_routes  # noqa: E402,F401  (service views on blp)
from marketplace import services_jobs as _services_jobs  # noqa: E402,F401  (registers the service jobs)

__all__ = ["blp"]
