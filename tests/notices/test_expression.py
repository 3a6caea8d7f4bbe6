"""Audience expressions: `(building 3 or 高龄) and not 低保` reaches exactly the residents a direct query finds over
generated data; validation, scope, previews, and an elder without an account reached through the daughter."""

from __future__ import annotations

from datetime import date

import pytest
import sqlalchemy as sa

from app.accounts.resident_models import HouseholdMembership, MembershipRole, MembershipStatus
from app.community.models import Building, Household, Unit
from app.db import atomic
from app.extensions import db as database
from app.push.models import Delivery
from notices import audience

#: 900 residents over community A's buildings 1–3 (two units each) and community B; births spread over 1930–2011;
#: every 6th 低保, every 7th 低收入; every 17th membership ended; every 23rd also holds an *ended* membership in
#: building 3 (moved out of it: not in "building 3"); every 29th has no birth date.
_POPULATE = [
    """
    INSERT INTO accounts_residents (public_id, real_name, birth_date)
    SELECT 'exp' || g, '居民' || g, CASE WHEN g % 29 = 0 THEN NULL ELSE DATE '1930-01-01' + (g * 53) % 30000 END
    FROM generate_series(1, :n) AS g
    """,
    """
    INSERT INTO accounts_household_memberships (public_id, household_id, resident_id, role, status, starts_on,
                                                ends_on)
    SELECT 'expm' || g, (CAST(:households AS bigint[]))[1 + g % cardinality(CAST(:households AS bigint[]))], r.id,
           'family', CASE WHEN g % 17 = 0 THEN 'ended' ELSE 'active' END, DATE '2020-01-01',
           CASE WHEN g % 17 = 0 THEN DATE '2024-01-01' END
    FROM generate_series(1, :n) AS g JOIN accounts_residents r ON r.public_id = 'exp' || g
    """,
    """
    INSERT INTO accounts_household_memberships (public_id, household_id, resident_id, role, status, starts_on,
                                                ends_on)
    SELECT 'expx' || g, :moved_out_of, r.id, 'family', 'ended', DATE '2019-01-01', DATE '2019-12-31'
    FROM generate_series(1, :n) AS g JOIN accounts_residents r ON r.public_id = 'exp' || g
    WHERE g % 23 = 0
    """,
    """
    INSERT INTO accounts_resident_tags (resident_id, tag_id, region_id, reason)
    SELECT r.id, t.id, :region, '测试'
    FROM generate_series(1, :n) AS g
    JOIN accounts_residents r ON r.public_id = 'exp' || g
    JOIN accounts_tags t ON (t.code = 'dibao' AND g % 6 = 0) OR (t.code = 'low_income' AND g % 7 = 0)
    """,
]


@pytest.fixture
def town(tree):
    """Community A gets buildings 2号楼 and 3号楼 (two units, two rooms each) beside 1号楼; 900 residents."""
    with atomic():
        buildings, units, rooms = {1: tree.building_a}, {}, list(tree.rooms_a.values())
        for number in (2, 3):
            building = Building(estate_id=tree.estate_a.id, community_id=tree.a.id, name=f"{number}号楼")
            database.session.add(building)
            database.session.flush()
            buildings[number] = building
            for unit_number in (1, 2):
                unit = Unit(building_id=building.id, name=f"{unit_number}单元")
                database.session.add(unit)
                database.session.flush()
                units[(number, unit_number)] = unit
                for room in ("101", "201"):
                    household = Household(
                        building_id=building.id,
                        unit_id=unit.id,
                        community_id=tree.a.id,
                        room=room,
                        floor=int(room[0]),
                        floor_area_dm2=9000,
                    )
                    database.session.add(household)
                    database.session.flush()
                    rooms.append(household)
        rooms += list(tree.rooms_b.values())
        moved_out_of = next(h.id for h in rooms if h.building_id == buildings[3].id)
        for statement in _POPULATE:
            database.session.execute(
                sa.text(statement),
                {"n": 900, "households": [h.id for h in rooms], "region": tree.a.id, "moved_out_of": moved_out_of},
            )
    tree.buildings, tree.units = buildings, units
    return tree


def _ids(query) -> set[int]:
    return set(database.session.scalars(query))


def _sql(statement: str, **params) -> set[int]:
    return set(database.session.scalars(sa.text(statement), params))


def _direct(town, communities) -> dict[str, set[int]]:
    """The sets a person would compute by hand, each by its own plain query."""
    active = """
        SELECT m.resident_id FROM accounts_household_memberships m
        JOIN community_households h ON h.id = m.household_id
        WHERE m.status = 'active' AND {where}
    """
    return {
        "region": _sql(active.format(where="h.community_id = ANY (:ids)"), ids=communities),
        "building3": _sql(active.format(where="h.building_id = :b"), b=town.buildings[3].id),
        "unit3_2": _sql(active.format(where="h.unit_id = :u"), u=town.units[(3, 2)].id),
        "elderly": _sql(
            "SELECT id FROM accounts_residents "
            "WHERE age(CAST((now() AT TIME ZONE 'Asia/Shanghai') AS date), birth_date) >= interval '80 years'"
        ),
        "sixties": _sql(
            "SELECT id FROM accounts_residents WHERE date_part('year', "
            "age(CAST((now() AT TIME ZONE 'Asia/Shanghai') AS date), birth_date)) BETWEEN 60 AND 69"
        ),
        "dibao": _sql(
            "SELECT x.resident_id FROM accounts_resident_tags x JOIN accounts_tags t ON t.id = x.tag_id "
            "WHERE t.code = 'dibao'"
        ),
        "low_income": _sql(
            "SELECT x.resident_id FROM accounts_resident_tags x JOIN accounts_tags t ON t.id = x.tag_id "
            "WHERE t.code = 'low_income'"
        ),
    }


def test_building_3_or_elderly_and_not_dibao_reaches_exactly_the_direct_query(town):
    expression = {
        "and": [
            {"or": [{"building": town.buildings[3].public_id}, {"tag": "高龄"}]},
            {"not": {"tag": "低保"}},
        ]
    }
    spec = audience.normalize(town.street, {"expression": expression})
    resolved = _ids(audience.resident_ids(town.street.id, spec))
    sets = _direct(town, [town.a.id, town.b.id])
    expected = sets["region"] & (sets["building3"] | sets["elderly"]) - sets["dibao"]
    assert resolved == expected
    # The data exercises every branch: both sides of the or, the not, and the moved-out residents.
    assert len(sets["region"] & sets["building3"] - sets["dibao"]) > 20
    assert len(sets["region"] & sets["elderly"] - sets["building3"] - sets["dibao"]) > 20
    assert sets["region"] & (sets["building3"] | sets["elderly"]) & sets["dibao"]
    moved_out = _sql(
        "SELECT m.resident_id FROM accounts_household_memberships m WHERE m.public_id LIKE 'expx%' "
        "AND m.status = 'ended'"
    )
    assert moved_out - sets["building3"] - sets["elderly"]
    assert not (moved_out - sets["building3"] - sets["elderly"]) & resolved
    assert spec["expression"]["and"][0]["or"][0]["label"] == "幸福家园 3号楼"
    assert audience.describe(spec) == "(幸福家园 3号楼 或 高龄) 且 非 低保"


@pytest.mark.parametrize(
    ("name", "build", "expect"),
    [
        ("unit", lambda t: {"unit": t.units[(3, 2)].public_id}, lambda s: s["unit3_2"]),
        ("age", lambda t: {"age": {"min": 60, "max": 69}}, lambda s: s["sixties"]),
        ("not elderly", lambda t: {"not": {"tag": "elderly"}}, lambda s: s["region"] - s["elderly"]),
        (
            "and tags",
            lambda t: {"and": [{"tag": "dibao"}, {"tag": "low_income"}]},
            lambda s: s["dibao"] & s["low_income"],
        ),
        (
            "community b or not building 3",
            lambda t: {"or": [{"community": t.b.public_id}, {"not": {"building": t.buildings[3].public_id}}]},
            lambda s: s["region"] - s["building3"],
        ),
    ],
)
def test_other_expressions_match_the_direct_sets(town, name, build, expect):
    spec = audience.normalize(town.street, {"expression": build(town)})
    sets = _direct(town, [town.a.id, town.b.id])
    assert _ids(audience.resident_ids(town.street.id, spec)) == sets["region"] & expect(sets), name


def test_the_audience_is_one_statement(town, count_queries):
    spec = audience.normalize(
        town.street, {"expression": {"or": [{"building": town.buildings[3].public_id}, {"tag": "elderly"}]}}
    )
    with count_queries() as statements:
        list(database.session.scalars(audience.resident_ids(town.street.id, spec)))
    assert len(statements) == 1


@pytest.mark.parametrize(
    ("expression", "path"),
    [
        ({"and": []}, "expression"),
        ({"or": [{"tag": "rich"}]}, "expression.or[0]"),
        ({"tag": "dibao", "building": "x"}, "expression"),
        ({"age": {"min": 90, "max": 80}}, "expression"),
        ({"age": {"min": "80"}}, "expression"),
        ({"not": [{"tag": "dibao"}]}, "expression.not"),
        ({"xor": []}, "expression"),
        ("dibao", "expression"),
    ],
)
def test_malformed_expressions_are_refused_with_the_path(people, tree, api, expression, path):
    response = api(
        people.staff,
        "post",
        "/api/v1/notices",
        json={"region_id": tree.a.public_id, "title": "x", "body": "y", "audience": {"expression": expression}},
    )
    assert response.status_code == 422, response.json
    assert response.json["code"] == "audience_invalid"
    assert response.json["details"]["path"] == path


def test_too_deep_an_expression_is_refused(people, tree, api):
    expression: dict = {"tag": "dibao"}
    for _ in range(10):
        expression = {"not": expression}
    response = api(
        people.staff,
        "post",
        "/api/v1/notices/preview",
        json={"region_id": tree.a.public_id, "audience": {"expression": expression}},
    )
    assert response.status_code == 422
    assert response.json["code"] == "audience_invalid"


def test_places_outside_the_staff_members_region_are_refused(people, tree, api):
    # Community A's staff name community B's building, and community C's unit of another district: 422, nothing made.
    for place in ({"building": tree.building_b.public_id}, {"community": tree.c.public_id}, {"estate": "nope"}):
        response = api(
            people.staff,
            "post",
            "/api/v1/notices",
            json={"region_id": tree.a.public_id, "title": "x", "body": "y", "audience": {"expression": place}},
        )
        assert response.status_code == 422, place
        assert response.json["code"] == "audience_invalid"
    assert api(people.staff, "get", "/api/v1/notices").json["items"] == []
    # A region outside their scope: 404.
    response = api(people.staff, "post", "/api/v1/notices/preview", json={"region_id": tree.b.public_id})
    assert response.status_code == 404


def test_expression_and_the_places_form_together_are_refused(people, tree, api):
    response = api(
        people.staff,
        "post",
        "/api/v1/notices/preview",
        json={"region_id": tree.a.public_id, "audience": {"expression": {"tag": "dibao"}, "tags": ["dibao"]}},
    )
    assert response.status_code == 422
    assert response.json["code"] == "audience_invalid"


def test_preview_counts_the_reachable_and_the_elder_through_the_daughter(people, tree, api, run_jobs):
    # Community A: 甲 and 乙 (accounts), 老张 (85, no account, daughter holds notices), 独居 (no account, nobody).
    preview = api(people.staff, "post", "/api/v1/notices/preview", json={"region_id": tree.a.public_id})
    assert preview.status_code == 200, preview.json
    assert (preview.json["recipients"], preview.json["reachable"], preview.json["unreachable"]) == (4, 3, 1)
    assert preview.json["summary"] == "全体居民"
    names = sorted(item["name"] for item in preview.json["sample"])
    assert names == sorted(["甲*", "乙*", "老*", "独*"])
    assert {item["name"]: item["reachable"] for item in preview.json["sample"]}["独*"] is False
    assert all(item["building"] == "幸福家园 1号楼" for item in preview.json["sample"])

    elders = {"expression": {"and": [{"tag": "高龄"}, {"not": {"tag": "低保"}}]}}
    only_elder = api(
        people.staff, "post", "/api/v1/notices/preview", json={"region_id": tree.a.public_id, "audience": elders}
    )
    assert (only_elder.json["recipients"], only_elder.json["reachable"]) == (1, 1)

    notice = api(
        people.staff,
        "post",
        "/api/v1/notices",
        json={"region_id": tree.a.public_id, "title": "体检", "body": "免费体检", "audience": elders},
    ).json
    assert notice["audience"]["summary"] == "高龄 且 非 低保"
    assert api(people.staff, "get", f"/api/v1/notices/{notice['id']}/preview").json["recipients"] == 1
    assert api(people.staff, "post", f"/api/v1/notices/{notice['id']}/publish", json={}).status_code == 200
    run_jobs()
    stats = api(people.staff, "get", f"/api/v1/notices/{notice['id']}/stats").json
    assert (stats["audience"], stats["reached"], stats["unreachable"]) == (1, 1, 0)
    assert api(people.daughter, "get", f"/api/v1/notices/{notice['id']}").status_code == 200
    assert api(people.own1, "get", f"/api/v1/notices/{notice['id']}").status_code == 404


def test_ended_memberships_leave_the_audience(people, tree, api, make_resident, run_jobs):
    _user, moved = make_resident("搬走", born=date(1990, 1, 1), sequence="917")
    with atomic():
        database.session.add(
            HouseholdMembership(
                household_id=tree.rooms_a["102"].id,
                resident_id=moved.id,
                role=MembershipRole.family,
                status=MembershipStatus.ended,
                starts_on=date(2020, 1, 1),
                ends_on=date(2024, 1, 1),
            )
        )
    expression = {"expression": {"building": tree.building_a.public_id}}
    notice = api(
        people.staff,
        "post",
        "/api/v1/notices",
        json={"region_id": tree.a.public_id, "title": "停水", "body": "停水", "audience": expression},
    ).json
    api(people.staff, "post", f"/api/v1/notices/{notice['id']}/publish", json={})
    run_jobs()
    assert (
        database.session.scalar(sa.select(Delivery.audience_count).where(Delivery.source_id == notice["id"])) == 4
    )  # 甲, 乙, 老张, 独居; not the one who moved out
