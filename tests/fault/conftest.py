"""Fault tests use the shared tree's residents and staff fixtures."""

from tests.community.fixtures import join, make_resident, make_staff  # noqa: F401  (fixtures)
