"""Fixtures for marketplace tests: the shared community fixtures plus the marketplace's own (see fixtures.py)."""

from tests.community.fixtures import api, join, make_resident, make_staff, tree  # noqa: F401  (fixtures)
from tests.marketplace.fixtures import market, pay, place  # noqa: F401  (fixtures)
