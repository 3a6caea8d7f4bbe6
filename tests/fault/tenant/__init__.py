"""The cross-tenant matrix (issue #12): a registry of resource factories, one per path with an id, by domain.

``world.py`` builds the cast (owner, neighbour, delegate, vendors, staff of two communities, admin) and the
``Case`` a factory returns; each domain module registers factories with ``@resource(path, methods)``;
``tests/fault/test_tenant_matrix.py`` walks the OpenAPI document and calls every operation as each caller.
"""
