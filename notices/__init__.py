"""社区通知与调查 (issue 11): staff notices in channels with audience expressions, scheduled publishing, read receipts,
reminders; surveys (anonymous ones kept unlinkable)."""

from app.api import Blueprint

blp = Blueprint("notices", __name__, url_prefix="/api/v1/notices", description="社区通知：定向发布、已读回执；社区调查")

from notices import demo as _demo  # noqa: E402,F401  (registers the demo seeder)
from notices import models, routes, survey_models, survey_routes  # noqa: E402,F401  (models and views on blp)

__all__ = ["blp"]
