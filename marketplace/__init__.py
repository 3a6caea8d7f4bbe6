"""社区商城：生鲜、维修、智能柜取货"""

from app.api import Blueprint

blp = Blueprint(
    "marketplace", __name__, url_prefix="/api/v1/marketplace", description="社区商城：生鲜、维修、智能柜取货"
)

from marketplace import access as _access  # noqa: E402,F401  (the vendor scope kind and actions)
from marketplace import demo as _demo  # noqa: E402,F401  (registers the demo seeder)
from marketplace import jobs as _jobs  # noqa: E402,F401  (registers the jobs)
from marketplace import models  # noqa: E402,F401  (tables for Alembic and the app)
from marketplace import payable as _payable  # noqa: E402,F401  (registers the payable kind)
from marketplace import routes as _routes  # noqa: E402,F401  (registers the views on blp)

__all__ = ["blp"]
