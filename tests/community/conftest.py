"""Fixtures for identity tests: the shared tree, staff, residents and API caller."""

from tests.community.fixtures import api, join, make_resident, make_staff, tree  # noqa: F401  (fixtures)
