"""Many residents made set-based (INSERT … SELECT generate_series), never one ORM object per row.

Resident ``g`` (1 … n) is an active family member of one of the given households, and:

- ``g % 3 == 0``: has an active account of their own;
- ``g % 5 == 0``: has a daughter (each daughter acts for two: g = 10k+5 and 10k+10) holding an active delegation with
  the ``notices`` scope;
- ``g % 7 == 0``: has a neighbour holding an active delegation without ``notices`` (eldercare only);
- ``g % 11 == 0``: has a ``notices`` delegation that expired yesterday;
- ``g % 13 == 0``: has a ``notices`` delegation still pending.

So exactly the residents with ``g % 3 == 0 or g % 5 == 0`` can be reached.
"""

from __future__ import annotations

import sqlalchemy as sa

from app.db import atomic
from app.extensions import db as database

_STATEMENTS = [
    # Accounts of residents with g % 3 == 0.
    """
    INSERT INTO accounts_users (public_id, display_name)
    SELECT :p || 'u' || g, '居民' || g FROM generate_series(1, :n) AS g WHERE g % 3 = 0
    """,
    """
    INSERT INTO accounts_residents (public_id, real_name, user_id)
    SELECT :p || 'r' || g, '居民' || g, u.id
    FROM generate_series(1, :n) AS g LEFT JOIN accounts_users u ON u.public_id = :p || 'u' || g
    """,
    """
    INSERT INTO accounts_household_memberships (public_id, household_id, resident_id, role, status, starts_on)
    SELECT :p || 'm' || g, (CAST(:households AS bigint[]))[1 + g % cardinality(CAST(:households AS bigint[]))],
           r.id, 'family', 'active', DATE '2020-01-01'
    FROM generate_series(1, :n) AS g JOIN accounts_residents r ON r.public_id = :p || 'r' || g
    """,
    # Every actor: an account and a resident.
    "DROP TABLE IF EXISTS pg_temp.push_test_plan",
    """
    CREATE TEMPORARY TABLE push_test_plan ON COMMIT DROP AS
    SELECT g, :p || 'd' || ((g + 9) / 10) AS actor, 'notices' AS scope, 'active' AS status, NULL::timestamptz AS expires
    FROM generate_series(1, :n) AS g WHERE g % 5 = 0
    UNION ALL SELECT g, :p || 'n' || g, 'eldercare', 'active', NULL FROM generate_series(1, :n) AS g WHERE g % 7 = 0
    UNION ALL SELECT g, :p || 'x' || g, 'notices', 'active', now() - interval '1 day'
    FROM generate_series(1, :n) AS g WHERE g % 11 = 0
    UNION ALL SELECT g, :p || 'q' || g, 'notices', 'pending', NULL FROM generate_series(1, :n) AS g WHERE g % 13 = 0
    """,
    """
    INSERT INTO accounts_users (public_id, display_name)
    SELECT DISTINCT actor || 'u', '家属' FROM push_test_plan
    """,
    """
    INSERT INTO accounts_residents (public_id, real_name, user_id)
    SELECT DISTINCT p.actor || 'r', '家属', u.id
    FROM push_test_plan p JOIN accounts_users u ON u.public_id = p.actor || 'u'
    """,
    """
    INSERT INTO accounts_delegations (public_id, actor_resident_id, subject_resident_id, relationship, scopes, status,
                                      expires_at)
    SELECT :p || 'g' || p.g || p.actor, a.id, s.id, 'child', ARRAY[p.scope]::varchar[], p.status, p.expires
    FROM push_test_plan p
    JOIN accounts_residents a ON a.public_id = p.actor || 'r'
    JOIN accounts_residents s ON s.public_id = :p || 'r' || p.g
    """,
]


def populate(n: int, household_ids: list[int], *, prefix: str = "p") -> None:
    """Create the residents described above, committed in one unit of work."""
    params = {"n": n, "p": prefix, "households": household_ids}
    with atomic():
        for statement in _STATEMENTS:
            database.session.execute(sa.text(statement), params)


def reachable(n: int) -> set[int]:
    return {g for g in range(1, n + 1) if g % 3 == 0 or g % 5 == 0}


def inbox_rows(n: int) -> int:
    """Own accounts plus daughters: a resident with both is reached twice."""
    return sum(1 for g in range(1, n + 1) if g % 3 == 0) + sum(1 for g in range(1, n + 1) if g % 5 == 0)
