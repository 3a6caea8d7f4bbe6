"""政务服务：办事指南、窗口预约、网上申办、投诉建议

Service guides (办事指南) and window appointments (预约) so far. Other packages use only what is exported here.
"""

from govservice import booking_models, models  # noqa: F401  (tables for Alembic and the app)
from govservice import demo as _demo  # noqa: F401  (registers the demo seeder)
from govservice import jobs as _jobs  # noqa: F401  (registers the jobs)
from govservice import manage_routes as _manage_routes  # noqa: F401  (registers the staff views on blp)
from govservice import permissions as _permissions  # noqa: F401  (registers the scoped actions)
from govservice.notify import EVENTS
from govservice.routes import blp

__all__ = ["EVENTS", "blp"]
