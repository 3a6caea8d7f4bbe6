"""政务服务：办事指南、窗口预约、网上申办、投诉建议

Service guides (办事指南), window appointments (预约), online applications (办件) routed to departments, complaints
(诉求) with an Open311 adapter. Other packages use only what is exported here.
"""

from govservice import application_routes as _application_routes  # noqa: F401  (registers departments, 办件 views)
from govservice import (  # noqa: F401  (tables for Alembic and the app)
    booking_models,
    complaint_models,
    department_models,
    models,
)
from govservice import complaint_jobs as _complaint_jobs  # noqa: F401  (registers the complaint jobs)
from govservice import complaint_routes as _complaint_routes  # noqa: F401  (registers the 诉求 views)
from govservice import demo as _demo  # noqa: F401  (registers the demo seeder)
from govservice import jobs as _jobs  # noqa: F401  (registers the jobs)
from govservice import manage_routes as _manage_routes  # noqa: F401  (registers the staff views on blp)
from govservice import permissions as _permissions  # noqa: F401  (registers the scoped actions)
from govservice.notify import EVENTS
from govservice.routes import blp

__all__ = ["EVENTS", "blp"]
