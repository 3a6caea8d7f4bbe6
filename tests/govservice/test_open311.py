"""The Open311 GeoReport v2 adapter: services, api keys, a request posted by a civic client that lands in the staff
worklist, its status flowing back, Open311's error format, and no personal data in public reads."""

from __future__ import annotations

import pytest

from app.db import atomic
from app.extensions import db as database
from govservice.complaint_models import ComplaintCategory
from govservice.department_models import Department

BASE = "/api/v1/govservice"
O311 = "/open311/v2"
CODE_A = "110101001001"


@pytest.fixture
def setup(tree):
    with atomic():
        tree.a.code = CODE_A
        database.session.add(
            ComplaintCategory(
                region_id=tree.street.id,
                code="garbage",
                name="垃圾清运不及时",
                group="市容环境",
                description="生活垃圾、建筑垃圾未及时清运",
                time_limit_days=2,
            )
        )
        database.session.add(ComplaintCategory(region_id=tree.a.id, code="lights", name="路灯不亮", group="市政设施"))
        dept = Department(region_id=tree.street.id, name="环卫所", code="HW")
        database.session.add(dept)
    return dept


@pytest.fixture
def api_key(api, tree, staff_a, make_staff, setup):
    street_staff = make_staff(tree.street)
    made = api(
        street_staff,
        "post",
        f"{BASE}/manage/open311-clients",
        json={"region_id": tree.street.public_id, "name": "12345 热线"},
    )
    assert made.status_code == 201, made.json
    assert len(made.json["api_key"]) >= 40
    listed = api(street_staff, "get", f"{BASE}/manage/open311-clients").json
    assert [c["name"] for c in listed] == ["12345 热线"]
    assert "api_key" not in listed[0]
    # Community staff cannot see or revoke a street's client.
    assert api(staff_a, "get", f"{BASE}/manage/open311-clients").json == []
    assert api(staff_a, "post", f"{BASE}/manage/open311-clients/{made.json['id']}/revoke").status_code == 404
    return made.json["api_key"], made.json["id"], street_staff


def test_services_of_a_community(client, tree, setup):
    response = client.get(f"{O311}/services.json", query_string={"jurisdiction_id": CODE_A})
    assert response.status_code == 200
    assert [(s["service_code"], s["group"], s["metadata"], s["type"]) for s in response.json] == [
        ("garbage", "市容环境", False, "realtime"),
        ("lights", "市政设施", False, "realtime"),
    ]
    definition = client.get(f"{O311}/services/garbage.json", query_string={"jurisdiction_id": CODE_A})
    assert definition.json == {"service_code": "garbage", "attributes": []}
    # Community B (same street) has the street's category only.
    other = client.get(f"{O311}/services.json", query_string={"jurisdiction_id": tree.b.public_id}).json
    assert [s["service_code"] for s in other] == ["garbage"]


def test_errors_come_in_open311_format(client, tree, setup):
    missing = client.get(f"{O311}/services.json")
    assert missing.status_code == 400
    assert missing.json == [{"code": 400, "description": "jurisdiction_id 必填（社区区划代码）"}]
    unknown = client.get(f"{O311}/services.json", query_string={"jurisdiction_id": "999"})
    assert unknown.status_code == 404
    assert unknown.json[0]["code"] == 404
    bad_key = client.post(
        f"{O311}/requests.json",
        data={
            "api_key": "nope",
            "jurisdiction_id": CODE_A,
            "service_code": "garbage",
            "lat": "39.9",
            "long": "116.4",
            "description": "垃圾桶满了三天没人清",
        },
    )
    assert bad_key.status_code == 403
    assert bad_key.json == [{"code": 403, "description": "api_key 无效"}]
    no_description = client.post(f"{O311}/requests.json", data={"api_key": "x", "jurisdiction_id": CODE_A})
    assert no_description.status_code == 400
    assert no_description.json[0]["code"] == 400


def test_a_request_flows_through_the_worklist_and_back(api, client, tree, setup, api_key, staff_a):
    key, _client_id, _street_staff = api_key
    posted = client.post(
        f"{O311}/requests.json",
        data={
            "api_key": key,
            "jurisdiction_id": CODE_A,
            "service_code": "garbage",
            "lat": "39.915",
            "long": "116.404",
            "address_string": "幸福家园1号楼1单元101门口",
            "description": "垃圾桶满了三天没人清，联系我13800138000",
            "first_name": "小明",
            "last_name": "赵",
            "phone": "13800138000",
            "email": "zhao@example.com",
        },
    )
    assert posted.status_code == 200, posted.json
    request_id = posted.json[0]["service_request_id"]
    assert posted.json[0]["service_notice"]

    # It is waiting in community A's worklist, with the caller's contact for staff (masked).
    worklist = api(staff_a, "get", f"{BASE}/manage/complaints").json
    assert [(row["id"], row["source"], row["status"]) for row in worklist] == [(request_id, "open311", "submitted")]
    detail = api(staff_a, "get", f"{BASE}/manage/complaints/{request_id}").json
    assert detail["contact"] == {"name": "赵小明", "phone": "138****8000"}

    public = client.get(f"{O311}/requests/{request_id}.json", query_string={"jurisdiction_id": CODE_A})
    assert public.status_code == 200
    (view,) = public.json
    assert (view["status"], view["service_code"], view["lat"], view["long"]) == ("open", "garbage", 39.915, 116.404)
    assert view["status_notes"] == "待受理"

    # Dispatched and answered: the status flows back.
    api(staff_a, "post", f"{BASE}/manage/complaints/{request_id}/dispatch", json={"department_id": setup.public_id})
    dispatched = client.get(f"{O311}/requests/{request_id}.json", query_string={"jurisdiction_id": CODE_A}).json[0]
    assert dispatched["status"] == "open"
    assert dispatched["agency_responsible"] == "环卫所"
    assert dispatched["expected_datetime"] is not None
    api(staff_a, "post", f"{BASE}/manage/complaints/{request_id}/reply", json={"text": "已安排清运车当天清理"})
    closed_list = client.get(f"{O311}/requests.json", query_string={"jurisdiction_id": CODE_A, "status": "open"}).json
    assert [r["service_request_id"] for r in closed_list] == [request_id]  # answered, not yet confirmed
    everything = client.get(f"{O311}/requests.json", query_string={"jurisdiction_id": CODE_A})
    text = everything.get_data(as_text=True)
    assert everything.status_code == 200
    assert request_id in text
    for personal in ("小明", "赵", "13800138000", "zhao@example.com", "101", "1单元"):
        assert personal not in text, personal
    assert everything.json[0]["description"] == "垃圾桶满了三天没人清，联系我***********"
    assert everything.json[0]["status_notes"] == "已答复：已安排清运车当天清理"


def test_a_key_posts_only_into_its_region_and_not_after_revocation(api, client, tree, setup, api_key):
    key, client_id, street_staff = api_key
    form = {"api_key": key, "service_code": "garbage", "address_string": "远方小区", "description": "垃圾没人清运"}
    far = client.post(f"{O311}/requests.json", data={**form, "jurisdiction_id": tree.c.public_id})
    assert far.status_code == 403
    no_place = client.post(
        f"{O311}/requests.json",
        data={**{k: v for k, v in form.items() if k != "address_string"}, "jurisdiction_id": CODE_A},
    )
    assert no_place.status_code == 400
    assert api(street_staff, "post", f"{BASE}/manage/open311-clients/{client_id}/revoke").status_code == 200
    revoked = client.post(f"{O311}/requests.json", data={**form, "jurisdiction_id": CODE_A})
    assert revoked.status_code == 403
