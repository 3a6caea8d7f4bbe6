"""Audiences resolve to exactly the right residents: compared with a direct SQL query over generated data."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from app.db import atomic
from app.extensions import db as database
from notices import audience
from notices.errors import AudienceInvalid

#: 600 residents over community A's and B's households: births spread over 1930–2011, every 4th 低收入, every 6th
#: 低保, every 5th 残疾, every 17th membership ended (so out of every audience).
_POPULATE = [
    """
    INSERT INTO accounts_residents (public_id, real_name, birth_date)
    SELECT 'aud' || g, '居民' || g, DATE '1930-01-01' + (g * 53) % 30000 FROM generate_series(1, :n) AS g
    """,
    """
    INSERT INTO accounts_household_memberships (public_id, household_id, resident_id, role, status, starts_on,
                                                ends_on)
    SELECT 'audm' || g, (CAST(:households AS bigint[]))[1 + g % cardinality(CAST(:households AS bigint[]))], r.id,
           'family', CASE WHEN g % 17 = 0 THEN 'ended' ELSE 'active' END, DATE '2020-01-01',
           CASE WHEN g % 17 = 0 THEN DATE '2024-01-01' END
    FROM generate_series(1, :n) AS g JOIN accounts_residents r ON r.public_id = 'aud' || g
    """,
    """
    INSERT INTO accounts_resident_tags (resident_id, tag_id, region_id, reason)
    SELECT r.id, t.id, :region, '测试'
    FROM generate_series(1, :n) AS g
    JOIN accounts_residents r ON r.public_id = 'aud' || g
    JOIN accounts_tags t ON (t.code = 'low_income' AND g % 4 = 0) OR (t.code = 'dibao' AND g % 6 = 0)
                         OR (t.code = 'disabled' AND g % 5 = 0)
    """,
]

#: The same rules written independently: active members, tags by join, 高龄 by PostgreSQL's age() on today's
#: Asia/Shanghai date.
_DIRECT = """
SELECT DISTINCT r.id FROM accounts_residents r
JOIN accounts_household_memberships m ON m.resident_id = r.id AND m.status = 'active'
JOIN community_households h ON h.id = m.household_id
WHERE h.building_id = ANY (CAST(:buildings AS bigint[]))
  AND ({tags})
"""
_LOW_INCOME = (
    "EXISTS (SELECT 1 FROM accounts_resident_tags x JOIN accounts_tags t ON t.id = x.tag_id "
    "WHERE x.resident_id = r.id AND t.code = 'low_income')"
)
_ELDERLY = "age(CAST((now() AT TIME ZONE 'Asia/Shanghai') AS date), r.birth_date) >= interval '80 years'"


@pytest.fixture
def generated(tree):
    households = [h.id for h in (*tree.rooms_a.values(), *tree.rooms_b.values())]
    with atomic():
        for statement in _POPULATE:
            database.session.execute(sa.text(statement), {"n": 600, "households": households, "region": tree.a.id})
    return tree


def _ids(query) -> set[int]:
    return set(database.session.scalars(query))


def _direct(tree, tags_sql: str, buildings=None) -> set[int]:
    buildings = buildings or [tree.building_a.id, tree.building_b.id]
    return set(database.session.scalars(sa.text(_DIRECT.format(tags=tags_sql)), {"buildings": buildings}))


@pytest.mark.parametrize(
    ("match", "joiner"),
    [("any", " OR "), ("all", " AND ")],
)
def test_low_income_and_elderly_resolve_to_exactly_the_direct_query(generated, match, joiner):
    tree = generated
    spec = audience.normalize(tree.street, {"tags": ["low_income", "elderly"], "tag_match": match})
    resolved = _ids(audience.resident_ids(tree.street.id, spec))
    expected = _direct(tree, joiner.join([_LOW_INCOME, _ELDERLY]))
    assert resolved == expected
    assert len(expected) > 20  # the data exercises the rule


def test_the_communities_given_as_values_resolve_to_the_same_residents(generated):
    """The job's form (the region's communities read first, as values) and the one-statement form agree."""
    from app.community.scope import community_ids_under

    tree = generated
    spec = audience.normalize(tree.street, {"tags": ["low_income"]})
    communities = community_ids_under(tree.street.id)
    assert communities == {tree.a.id, tree.b.id}
    given = _ids(audience.resident_ids(tree.street.id, spec, communities=communities))
    assert given == _ids(audience.resident_ids(tree.street.id, spec)) == _direct(tree, _LOW_INCOME)
    only_a = _ids(audience.resident_ids(tree.street.id, None, communities=[tree.a.id]))
    assert only_a == _direct(tree, "true", [tree.building_a.id])
    assert _ids(audience.resident_ids(tree.street.id, None, communities=[])) == set()


def test_elderly_alone_is_computed_from_the_birth_date(generated):
    tree = generated
    resolved = _ids(audience.resident_ids(tree.street.id, audience.normalize(tree.street, {"tags": ["elderly"]})))
    assert resolved == _direct(tree, _ELDERLY)


def test_places_are_a_union_and_a_building_limits_to_it(generated):
    tree = generated
    only_a = audience.normalize(tree.street, {"buildings": [tree.building_a.public_id], "tags": ["low_income"]})
    assert _ids(audience.resident_ids(tree.street.id, only_a)) == _direct(tree, _LOW_INCOME, [tree.building_a.id])
    both = audience.normalize(tree.street, {"communities": [tree.b.public_id], "estates": [tree.estate_a.public_id]})
    assert _ids(audience.resident_ids(tree.street.id, both)) == _direct(tree, "true")


def test_whole_region_by_default_and_ended_memberships_excluded(generated):
    tree = generated
    resolved = _ids(audience.resident_ids(tree.a.id, audience.normalize(tree.a, {})))
    assert resolved == _direct(tree, "true", [tree.building_a.id])
    ended = set(database.session.scalars(sa.text("SELECT id FROM accounts_residents WHERE public_id = 'aud17'")))
    assert ended
    assert not ended & resolved


def test_a_place_outside_the_region_or_an_unknown_tag_is_refused(generated):
    tree = generated
    with pytest.raises(AudienceInvalid):
        audience.normalize(tree.a, {"buildings": [tree.building_b.public_id]})
    with pytest.raises(AudienceInvalid):
        audience.normalize(tree.a, {"tags": ["rich"]})
    with pytest.raises(AudienceInvalid):
        audience.normalize(tree.a, {"communities": ["nope"]})
