"""Fixtures for eldercare tests: the shared community fixtures plus eldercare's own (see fixtures.py)."""

from tests.community.fixtures import api, join, make_resident, make_staff, tree  # noqa: F401  (fixtures)
from tests.eldercare.fixtures import care  # noqa: F401  (fixtures)
