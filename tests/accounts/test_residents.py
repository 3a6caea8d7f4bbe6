"""Residents collected once: one's own details, staff registration, verification, scoped lists, tags, reveal."""

from datetime import date

import sqlalchemy as sa

from app.audit import AuditEntry
from app.extensions import db as database
from tests.community.fixtures import id_number

ELDER_BORN = date(1944, 5, 20)


def _audit(action: str) -> list[AuditEntry]:
    return list(database.session.scalars(sa.select(AuditEntry).where(AuditEntry.action == action)))


def test_a_resident_gives_details_once_and_sees_them_masked(tree, make_user, api):
    user = make_user("账号")
    number = id_number(date(1988, 6, 9), "994")
    response = api(
        user,
        "put",
        "/api/v1/me/resident",
        json={
            "real_name": "李娜",
            "document_type": "resident_id_card",
            "document_number": number,
            "hukou_status": "local",
        },
    )
    assert response.status_code == 200, response.json
    body = response.json
    assert body["document_number"] == number[:3] + "*" * 11 + number[-4:]
    assert (body["birth_date"], body["gender"], body["verification_status"]) == ("1988-06-09", "female", "unverified")
    assert number not in str(api(user, "get", "/api/v1/me").json)
    entry = _audit("resident.create")[0]
    assert number not in str(entry.after)
    assert entry.after["real_name"] == "李*"


def test_an_invalid_number_is_422_with_the_reason(make_user, api):
    valid = id_number(date(1988, 6, 9), "994")
    wrong = valid[:-1] + ("1" if valid[-1] != "1" else "2")
    response = api(
        make_user(),
        "put",
        "/api/v1/me/resident",
        json={"real_name": "李娜", "document_type": "resident_id_card", "document_number": wrong},
    )
    assert (response.status_code, response.json["code"]) == (422, "document_invalid")
    assert "校验位" in response.json["details"]["fields"]["document_number"][0]


def test_a_passport_holder_gives_birth_date_and_gender_themselves(make_user, api):
    response = api(
        make_user(),
        "put",
        "/api/v1/me/resident",
        json={
            "real_name": "John Smith",
            "document_type": "passport",
            "document_number": "X12345678",
            "document_country": "USA",
            "birth_date": "1979-04-01",
            "gender": "male",
        },
    )
    assert response.status_code == 200, response.json
    assert (response.json["birth_date"], response.json["document_number"]) == ("1979-04-01", "X1****678")


def test_a_document_already_registered_cannot_be_claimed_by_another_account(tree, make_user, make_resident, api):
    make_resident("王秀兰", born=ELDER_BORN, sequence="992", account=False, community=tree.a)
    response = api(
        make_user("冒领者"),
        "put",
        "/api/v1/me/resident",
        json={
            "real_name": "王秀兰",
            "document_type": "resident_id_card",
            "document_number": id_number(ELDER_BORN, "992"),
        },
    )
    assert (response.status_code, response.json["code"]) == (409, "document_already_registered")


def test_verification_goes_unverified_pending_verified_with_who_and_when(tree, make_resident, make_staff, api):
    user, resident = make_resident("李雷", community=None)
    no_community = api(user, "post", "/api/v1/me/resident/verification", json={})
    assert (no_community.status_code, no_community.json["code"]) == (409, "community_required")
    pending = api(user, "post", "/api/v1/me/resident/verification", json={"community_id": tree.a.public_id})
    assert pending.json["verification_status"] == "pending"

    grid = api(
        make_staff(tree.a, "grid_worker"),
        "post",
        f"/api/v1/residents/{resident.public_id}/verification",
        json={"approve": True},
    )
    assert (grid.status_code, grid.json["code"]) == (403, "forbidden")
    other = api(
        make_staff(tree.b), "post", f"/api/v1/residents/{resident.public_id}/verification", json={"approve": True}
    )
    assert (other.status_code, other.json["code"]) == (404, "resident_not_found")

    staff = make_staff(tree.a)
    verified = api(staff, "post", f"/api/v1/residents/{resident.public_id}/verification", json={"approve": True})
    assert verified.status_code == 200
    assert verified.json["verification_status"] == "verified"
    assert verified.json["verified_at"].endswith("+08:00")
    database.session.refresh(resident)
    assert resident.verified_by_user_id == staff.id
    again = api(staff, "post", f"/api/v1/residents/{resident.public_id}/verification", json={"approve": True})
    assert (again.status_code, again.json["code"]) == (409, "verification_not_pending")
    locked = api(user, "put", "/api/v1/me/resident", json={"real_name": "李雷雷"})
    assert (locked.status_code, locked.json["code"]) == (409, "resident_verified")


def test_staff_register_an_elder_without_an_account_into_a_household(tree, make_staff, api):
    staff = make_staff(tree.a)
    response = api(
        staff,
        "post",
        "/api/v1/residents",
        json={
            "real_name": "王秀兰",
            "document_type": "resident_id_card",
            "document_number": id_number(ELDER_BORN, "992"),
            "hukou_status": "local",
            "community_id": tree.a.public_id,
            "household_id": tree.rooms_a["101"].public_id,
            "role": "head",
            "verified": True,
        },
    )
    assert response.status_code == 201, response.json
    body = response.json
    assert (body["has_account"], body["verification_status"], body["elderly"]) == (False, "verified", True)
    assert [h["role"] for h in body["households"]] == ["head"]
    assert {t["name"] for t in body["tags"]} == {"高龄"}  # computed, never stored
    household = api(staff, "get", f"/api/v1/community/households/{tree.rooms_a['101'].public_id}").json
    assert [m["name"] for m in household["members"]] == ["王秀兰"]


def test_grid_workers_register_but_cannot_mark_verified(tree, make_staff, api):
    grid = make_staff(tree.a, "grid_worker")
    payload = {
        "real_name": "赵大爷",
        "document_type": "resident_id_card",
        "document_number": id_number(date(1940, 1, 1), "991"),
        "community_id": tree.a.public_id,
    }
    assert api(grid, "post", "/api/v1/residents", json=payload).status_code == 201
    payload["document_number"] = id_number(date(1941, 1, 1), "991")
    refused = api(grid, "post", "/api/v1/residents", json={**payload, "verified": True})
    assert refused.status_code == 403


def test_staff_of_one_community_get_404_on_another_communitys_residents(tree, make_resident, make_staff, join, api):
    _user, resident = make_resident("居民甲")
    join(resident, tree.rooms_a["101"])
    assert api(make_staff(tree.a), "get", f"/api/v1/residents/{resident.public_id}").status_code == 200
    other = api(make_staff(tree.b), "get", f"/api/v1/residents/{resident.public_id}")
    assert (other.status_code, other.json["code"]) == (404, "resident_not_found")
    assert api(make_staff(tree.street), "get", f"/api/v1/residents/{resident.public_id}").status_code == 200
    assert api(make_staff(tree.other_district), "get", f"/api/v1/residents/{resident.public_id}").status_code == 404


def test_resident_lists_are_scoped_and_filter_elderly_by_age_computed_today(tree, make_resident, make_staff, join, api):
    _u, young = make_resident("年轻人", born=date(1995, 1, 1), sequence="991")
    _u, elder = make_resident("老人", born=ELDER_BORN, sequence="992", account=False)
    _u, elsewhere = make_resident("别处的人", born=date(1950, 1, 1), sequence="993")
    join(young, tree.rooms_a["101"])
    join(elder, tree.rooms_a["102"], "head")
    join(elsewhere, tree.rooms_b["101"])
    staff_a = make_staff(tree.a)
    names = {r["real_name"] for r in api(staff_a, "get", "/api/v1/residents").json["items"]}
    assert names == {"年轻人", "老人"}
    elderly = api(staff_a, "get", "/api/v1/residents", query_string={"elderly": "true"}).json["items"]
    assert [r["real_name"] for r in elderly] == ["老人"]
    by_document = api(
        staff_a, "get", "/api/v1/residents", query_string={"document_number": id_number(ELDER_BORN, "992")}
    ).json["items"]
    assert [r["id"] for r in by_document] == [elder.public_id]
    street = {r["real_name"] for r in api(make_staff(tree.street), "get", "/api/v1/residents").json["items"]}
    assert street == {"年轻人", "老人", "别处的人"}
    outside = api(staff_a, "get", "/api/v1/residents", query_string={"community_id": tree.b.public_id})
    assert outside.status_code == 404


def test_resident_lists_page_by_cursor(tree, make_resident, make_staff, join, api):
    for n in range(5):
        _u, resident = make_resident(f"居民{n}", born=date(1980, 1, n + 1), sequence="991")
        join(resident, tree.rooms_a["201"])
    staff = make_staff(tree.a)
    first = api(staff, "get", "/api/v1/residents", query_string={"limit": 3}).json
    second = api(staff, "get", "/api/v1/residents", query_string={"limit": 3, "cursor": first["next_cursor"]}).json
    ids = [r["id"] for r in first["items"] + second["items"]]
    assert len(ids) == len(set(ids)) == 5
    assert second["next_cursor"] is None


def test_staff_see_the_full_number_only_with_a_reason_and_it_is_logged(tree, make_resident, make_staff, join, api):
    _u, resident = make_resident("居民乙", born=date(1970, 7, 7), sequence="993", community=tree.a)
    staff = make_staff(tree.a)
    path = f"/api/v1/residents/{resident.public_id}/sensitive"
    assert api(staff, "get", path).status_code == 422
    revealed = api(staff, "get", path, query_string={"reason": "办理低保复核"})
    assert revealed.json["document_number"] == id_number(date(1970, 7, 7), "993")
    (entry,) = _audit("resident.reveal")
    assert (entry.actor_user_id, entry.reason, entry.subject_id) == (staff.id, "办理低保复核", resident.id)
    grid = api(make_staff(tree.a, "grid_worker"), "get", path, query_string={"reason": "好奇"})
    assert grid.status_code == 403


def test_staff_corrections_are_audited_and_a_new_number_resets_verification(tree, make_resident, make_staff, api):
    _u, resident = make_resident("居民丙", community=tree.a, verified=True)
    staff = make_staff(tree.a)
    new_number = id_number(date(1990, 3, 8), "995")
    response = api(
        staff,
        "patch",
        f"/api/v1/residents/{resident.public_id}",
        json={"document_type": "resident_id_card", "document_number": new_number, "reason": "证件号录入错误"},
    )
    assert response.status_code == 200, response.json
    assert (response.json["verification_status"], response.json["birth_date"]) == ("unverified", "1990-03-08")
    (entry,) = _audit("resident.update")
    assert entry.reason == "证件号录入错误"
    assert new_number not in str(entry.after)
    assert (
        api(staff, "patch", f"/api/v1/residents/{resident.public_id}", json={"hukou_status": "local"}).status_code
        == 422
    )


def test_staff_link_an_account_to_a_resident_they_registered(tree, make_resident, make_staff, make_user, api):
    _u, elder = make_resident("老人", born=ELDER_BORN, sequence="992", account=False, community=tree.a)
    new_account = make_user("老人的新账号")
    response = api(
        make_staff(tree.a),
        "post",
        f"/api/v1/residents/{elder.public_id}/account",
        json={"user_id": new_account.public_id, "reason": "本人持证到社区办理"},
    )
    assert response.status_code == 200
    assert response.json["has_account"] is True
    assert api(new_account, "get", "/api/v1/me").json["resident"]["id"] == elder.public_id


def test_the_resident_row_is_never_readable_by_other_residents(tree, make_resident, api):
    user, _me = make_resident("居民丁", sequence="991")
    _u, other = make_resident("居民戊", sequence="993")
    response = api(user, "get", f"/api/v1/residents/{other.public_id}")
    assert (response.status_code, response.json["code"]) == (404, "resident_not_found")
    assert api(user, "get", "/api/v1/residents").status_code == 403
