"""Fixtures for govservice tests: the shared tree, staff, residents and API caller, plus a centre and a clock."""

from tests.community.fixtures import api, join, make_resident, make_staff, tree  # noqa: F401  (fixtures)
from tests.govservice.fixtures import freeze, resident, setup, staff_a, staff_b  # noqa: F401  (fixtures)
