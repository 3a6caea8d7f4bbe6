"""居家养老：助餐、助浴、陪诊、保洁、跑腿、陪伴"""

from app.api import Blueprint

blp = Blueprint(
    "eldercare", __name__, url_prefix="/api/v1/eldercare", description="居家养老：助餐、助浴、陪诊、保洁、跑腿、陪伴"
)

from eldercare import access as _access  # noqa: E402,F401  (the provider scope kind and actions)
from eldercare import jobs as _jobs  # noqa: E402,F401  (registers the jobs)
from eldercare import meal_routes as _meal_routes  # noqa: E402,F401  (meals, series, balances: views, jobs, payable, demo)
from eldercare import models  # noqa: E402,F401  (tables for Alembic and the app)
from eldercare import payable as _payable  # noqa: E402,F401  (registers the payable kind)
from eldercare import routes as _routes  # noqa: E402,F401  (registers the views on blp)
from eldercare import visit_models as _visit_models  # noqa: E402,F401  (visit and caregiver tables)

__all__ = ["blp"]
