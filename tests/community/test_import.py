"""CSV import of buildings and households: every row checked, all rows or none, errors by row."""

import io

import sqlalchemy as sa

from app.community.models import Building, Household, Unit
from app.extensions import db as database


def _path(estate) -> str:
    return f"/api/v1/community/estates/{estate.public_id}/import"


def _count(model, **where) -> int:
    query = sa.select(sa.func.count()).select_from(model)
    for key, value in where.items():
        query = query.where(getattr(model, key) == value)
    return database.session.scalar(query)


def test_import_creates_buildings_units_and_households(tree, make_staff, api):
    csv = "楼栋,单元,房号,楼层,面积\n2号楼,1单元,101,1,89.50\n2号楼,1单元,102,1,64.2\n2号楼,2单元,101,1,\n3号楼,,,,\n"
    response = api(make_staff(tree.a), "post", _path(tree.estate_a), data=csv.encode(), content_type="text/csv")
    assert response.status_code == 201, response.json
    assert response.json == {"buildings": 2, "units": 2, "households": 3}
    building = database.session.scalar(sa.select(Building).where(Building.name == "2号楼"))
    areas = sorted(
        database.session.scalars(sa.select(Household.floor_area_dm2).where(Household.building_id == building.id)),
        key=lambda a: a or 0,
    )
    assert areas == [None, 6420, 8950]
    assert _count(Building, name="3号楼") == 1


def test_import_reuses_existing_buildings_and_units(tree, make_staff, api):
    csv = "building,unit,room\n1号楼,1单元,301\n"
    response = api(make_staff(tree.a), "post", _path(tree.estate_a), data=csv.encode(), content_type="text/csv")
    assert response.json == {"buildings": 0, "units": 0, "households": 1}


def test_a_gbk_file_uploaded_as_multipart_is_read(tree, make_staff, api):
    csv = "楼栋,单元,房号,面积\n5号楼,1单元,501,120\n".encode("gb18030")
    response = api(
        make_staff(tree.a),
        "post",
        _path(tree.estate_a),
        data={"file": (io.BytesIO(csv), "rooms.csv")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 201
    assert response.json["households"] == 1


def test_one_bad_row_imports_nothing_and_every_error_is_reported_by_row(tree, make_staff, api):
    csv = (
        "楼栋,单元,房号,楼层,面积\n"
        "6号楼,1单元,101,1,89.50\n"  # fine
        "6号楼,1单元,102,一楼,89.5\n"  # floor not a number (line 3)
        "6号楼,1单元,103,1,89.505\n"  # three decimals (line 4)
        ",1单元,104,1,50\n"  # no building (line 5)
        "6号楼,1单元,101,1,70\n"  # duplicate of line 2 (line 6)
        "1号楼,1单元,101,1,70\n"  # already exists (line 7)
    )
    before = (_count(Building), _count(Unit), _count(Household))
    response = api(make_staff(tree.a), "post", _path(tree.estate_a), data=csv.encode(), content_type="text/csv")
    assert (response.status_code, response.json["code"]) == (422, "import_failed")
    errors = {(e["row"], e["column"]) for e in response.json["details"]["errors"]}
    assert errors == {(3, "floor"), (4, "floor_area_m2"), (5, "building"), (6, "room"), (7, "room")}
    assert response.json["details"]["error_count"] == 5
    assert (_count(Building), _count(Unit), _count(Household)) == before


def test_a_wrong_header_is_refused_with_the_template(tree, make_staff, api):
    response = api(
        make_staff(tree.a), "post", _path(tree.estate_a), data="房间,面积\n101,20\n".encode(), content_type="text/csv"
    )
    assert response.status_code == 422
    assert response.json["details"]["missing_columns"] == ["building"]
    assert response.json["details"]["unknown_columns"] == ["房间"]
    assert "楼栋" in response.json["details"]["template"]


def test_import_needs_a_csv_body(tree, make_staff, api):
    response = api(make_staff(tree.a), "post", _path(tree.estate_a), json={"rows": []})
    assert (response.status_code, response.json["code"]) == (422, "import_failed")


def test_import_is_staff_only_and_scoped(tree, make_staff, api):
    csv = b"building,room\n9,901\n"
    grid = api(make_staff(tree.a, "grid_worker"), "post", _path(tree.estate_a), data=csv, content_type="text/csv")
    assert grid.status_code == 403
    other = api(make_staff(tree.b), "post", _path(tree.estate_a), data=csv, content_type="text/csv")
    assert (other.status_code, other.json["code"]) == (404, "estate_not_found")


def test_concurrent_imports_of_one_file_import_it_once(committed_db, app, make_staff):
    """Imports into one estate take its row lock: the first wins, the others see its rooms and import nothing."""
    import threading

    from app.community.importer import import_households
    from app.errors import APIError
    from tests.community.fixtures import build_tree

    tree = build_tree()
    staff_ids = [make_staff(tree.a, name=f"工作人员{n}").id for n in range(6)]
    estate = tree.estate_a.public_id
    committed_db.session.remove()
    csv = "楼栋,单元,房号\n8号楼,1单元,101\n8号楼,1单元,102\n".encode()
    barrier = threading.Barrier(len(staff_ids))
    outcomes: list[str] = []
    lock = threading.Lock()

    def run(user_id: int) -> None:
        from app.accounts.models import User

        with app.app_context():
            try:
                user = committed_db.session.get(User, user_id)
                barrier.wait(timeout=10)
                import_households(user, estate, csv)
                outcome = "imported"
            except APIError as exc:
                outcome = exc.code
            finally:
                committed_db.session.remove()
            with lock:
                outcomes.append(outcome)

    threads = [threading.Thread(target=run, args=(user_id,)) for user_id in staff_ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(outcomes) == ["import_failed"] * (len(staff_ids) - 1) + ["imported"]
    assert _count(Building, name="8号楼") == 1
    rooms = committed_db.session.scalar(
        sa.select(sa.func.count()).select_from(Household).join(Building).where(Building.name == "8号楼")
    )
    assert rooms == 2
