"""社区通知：定向发布、已读回执 (part 1 of issue 11: staff notices, audiences, scheduled publishing, read receipts)."""

from app.api import Blueprint

blp = Blueprint("notices", __name__, url_prefix="/api/v1/notices", description="社区通知：定向发布、已读回执")

from notices import demo as _demo  # noqa: E402,F401  (registers the demo seeder)
from notices import models, routes  # noqa: E402,F401  (registers the models and the views on blp)

__all__ = ["blp"]
