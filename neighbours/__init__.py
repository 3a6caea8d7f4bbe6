"""邻里圈：话题、评论、群组、活动"""

from app.api import Blueprint

blp = Blueprint("neighbours", __name__, url_prefix="/api/v1/neighbours", description="邻里圈：话题、评论、群组、活动")

from neighbours import activities_demo as _activities_demo  # noqa: E402,F401  (activity demo seeder)
from neighbours import activity_routes as _activity_routes  # noqa: E402,F401  (activities: models, views, jobs)
from neighbours import demo as _demo  # noqa: E402,F401  (registers the demo seeder)
from neighbours import jobs as _jobs  # noqa: E402,F401  (registers the periodic clean-up)
from neighbours import manage_routes, merge, models, routes  # noqa: E402,F401  (models, views, merge step)

__all__ = ["blp"]
