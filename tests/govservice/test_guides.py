"""Service guides: staff drafts and publishing, what residents read, search by Chinese, pinyin and initials, and
the demo catalogue."""

import sqlalchemy as sa

from app.accounts.demo import seed_identity
from app.db import atomic
from app.extensions import db as database
from govservice.demo import seed_govservice
from govservice.models import Category, Centre, GuideVersion, VersionStatus
from govservice.search import normalise, search_key
from tests.govservice.fixtures import add_item

GUIDE = {
    "code": "SB-101",
    "name": "城乡居民基本养老保险参保登记",
    "department": "区人力资源和社会保障局",
    "legal_basis": "《中华人民共和国社会保险法》第二十条",
    "conditions": "年满16周岁（不含在校学生），非国家机关和事业单位工作人员及不属于职工基本养老保险覆盖范围的城乡居民",
    "fee_fen": 0,
    "fee_standard": "不收费",
    "statutory_days": 20,
    "promised_days": 5,
    "kind": "promised",
    "place": "幸福社区党群服务中心一层1号窗口",
    "hours": "工作日 9:00–17:00",
    "phone": "010-65001234",
    "supervision_phone": "12345",
    "visits": 1,
    "online": True,
    "bookable": True,
    "keywords": "养老保险,居民养老",
    "faq": [{"question": "可以代办吗？", "answer": "可以，凭代办授权办理。"}],
    "materials": [
        {"code": "id_card", "name": "居民身份证", "form": "original", "profile_fact": "document"},
        {"code": "hukou_book", "name": "户口簿", "form": "original_and_copy", "copies": 1, "reusable": True},
    ],
}


def _centre(api, staff, tree):
    made = api(
        staff,
        "post",
        "/api/v1/govservice/manage/centres",
        json={"region_id": tree.a.public_id, "name": "幸福社区党群服务中心", "latest_days": 7},
    )
    assert made.status_code == 201, made.json
    category = api(
        staff, "post", f"/api/v1/govservice/manage/centres/{made.json['id']}/categories", json={"name": "社会保障"}
    )
    assert category.status_code == 201, category.json
    return made.json["id"], category.json["id"]


def test_staff_draft_publish_and_edit_while_residents_read_the_published_version(tree, staff_a, api):
    centre, category = _centre(api, staff_a, tree)
    created = api(
        staff_a, "post", f"/api/v1/govservice/manage/centres/{centre}/guides", json={**GUIDE, "category_id": category}
    )
    assert created.status_code == 201, created.json
    item = created.json["id"]
    assert created.json["published"] is None
    assert created.json["draft"]["materials"][0]["profile_fact"] == "document"

    # Residents (and anonymous readers) see nothing of a draft.
    assert api(None, "get", f"/api/v1/govservice/guides/{item}").status_code == 404
    assert api(None, "get", f"/api/v1/govservice/guides?centre={centre}").json["items"] == []

    published = api(staff_a, "post", f"/api/v1/govservice/manage/guides/{item}/publish")
    assert (published.json["draft"], published.json["published"]["version"]) == (None, 1)
    read = api(None, "get", f"/api/v1/govservice/guides/{item}").json
    assert (read["name"], read["promised_days"], read["statutory_days"], read["kind"]) == (
        GUIDE["name"],
        5,
        20,
        "promised",
    )
    assert read["materials"][1] == {
        "code": "hukou_book",
        "name": "户口簿",
        "form": "original_and_copy",
        "copies": 1,
        "required": True,
        "profile_fact": None,
        "reusable": True,
        "note": "",
    }
    assert read["faq"] == GUIDE["faq"]

    edited = api(
        staff_a,
        "patch",
        f"/api/v1/govservice/manage/guides/{item}/draft",
        json={"name": "城乡居民养老保险参保登记", "promised_days": 3},
    )
    assert edited.json["draft"]["version"] == 2
    assert edited.json["draft"]["materials"] == read["materials"]  # copied from the published version
    assert api(None, "get", f"/api/v1/govservice/guides/{item}").json["name"] == GUIDE["name"]
    api(staff_a, "post", f"/api/v1/govservice/manage/guides/{item}/publish")
    read = api(None, "get", f"/api/v1/govservice/guides/{item}").json
    assert (read["name"], read["version"], read["promised_days"]) == ("城乡居民养老保险参保登记", 2, 3)
    statuses = database.session.scalars(sa.select(GuideVersion.status).order_by(GuideVersion.number)).all()
    assert statuses == [VersionStatus.retired, VersionStatus.published]

    nothing = api(staff_a, "post", f"/api/v1/govservice/manage/guides/{item}/publish")
    assert (nothing.status_code, nothing.json["code"]) == (409, "no_draft")
    withdrawn = api(staff_a, "post", f"/api/v1/govservice/manage/guides/{item}/unpublish", json={"reason": "政策调整"})
    assert withdrawn.json["published"] is None
    assert api(None, "get", f"/api/v1/govservice/guides/{item}").status_code == 404

    listed = api(staff_a, "get", f"/api/v1/govservice/manage/centres/{centre}/guides?status=unpublished")
    assert [row["code"] for row in listed.json] == ["SB-101"]
    assert "X-Pagination" in listed.headers


def test_guide_elements_are_checked(tree, staff_a, api):
    centre, category = _centre(api, staff_a, tree)
    path = f"/api/v1/govservice/manage/centres/{centre}/guides"
    immediate = api(staff_a, "post", path, json={**GUIDE, "category_id": category, "kind": "immediate"})
    assert immediate.status_code == 422
    assert "promised_days" in immediate.json["details"]["fields"]["json"]
    offline = api(staff_a, "post", path, json={**GUIDE, "category_id": category, "visits": 0, "online": False})
    assert "visits" in offline.json["details"]["fields"]["json"]
    short = api(staff_a, "post", path, json={**GUIDE, "category_id": category, "statutory_days": 2})
    assert "statutory_days" in short.json["details"]["fields"]["json"]
    assert api(staff_a, "post", path, json={**GUIDE, "category_id": category}).status_code == 201
    taken = api(staff_a, "post", path, json={**GUIDE, "category_id": category})
    assert (taken.status_code, taken.json["code"]) == (409, "code_taken")


def test_staff_of_another_community_see_nothing_and_street_staff_manage(tree, staff_a, staff_b, make_staff, api):
    centre, category = _centre(api, staff_a, tree)
    item = api(
        staff_a, "post", f"/api/v1/govservice/manage/centres/{centre}/guides", json={**GUIDE, "category_id": category}
    ).json["id"]
    for method, path, payload in (
        ("get", f"/api/v1/govservice/manage/centres/{centre}/guides", None),
        ("post", f"/api/v1/govservice/manage/centres/{centre}/guides", {**GUIDE, "category_id": category}),
        ("get", f"/api/v1/govservice/manage/guides/{item}", None),
        ("patch", f"/api/v1/govservice/manage/guides/{item}/draft", {"name": "改名"}),
        ("post", f"/api/v1/govservice/manage/guides/{item}/publish", None),
        ("patch", f"/api/v1/govservice/manage/centres/{centre}", {"latest_days": 30}),
        ("post", f"/api/v1/govservice/manage/centres/{centre}/windows", {"number": 9, "name": "窗口"}),
        ("patch", f"/api/v1/govservice/manage/categories/{category}", {"name": "改名"}),
    ):
        kwargs = {"json": payload} if payload is not None else {}
        answer = api(staff_b, method, path, **kwargs)
        assert answer.status_code == 404, (path, answer.json)
    street_staff = make_staff(tree.street)
    assert api(street_staff, "get", f"/api/v1/govservice/manage/guides/{item}").status_code == 200
    grid = make_staff(tree.a, role="grid_worker")
    assert api(grid, "post", f"/api/v1/govservice/manage/guides/{item}/publish").status_code == 403
    centres = api(None, "get", f"/api/v1/govservice/centres?region={tree.a.public_id}").json
    assert [c["id"] for c in centres] == [centre]
    assert api(None, "get", f"/api/v1/govservice/centres?region={tree.b.public_id}").json == []


def test_search_by_chinese_pinyin_and_initials(tree):
    from tests.govservice.fixtures import build_centre

    setup = build_centre(tree.a)  # category 社保卡: 社会保障卡申领, 社会保障卡补换卡 (keyword 社保卡)
    with atomic():
        other = database.session.get(Centre, setup.centre.id)
        relief = Category(centre_id=other.id, name="社会救助", search=search_key("社会救助"))
        database.session.add(relief)
        database.session.flush()
        add_item(other, relief, "JZ-001", "最低生活保障申请", keywords="低保")
        add_item(other, relief, "JZ-002", "临时救助申请")
    from govservice import guides

    def names(q):
        return sorted(item["name"] for item in guides.search_guides(q=q)["items"])

    cards = ["社会保障卡申领", "社会保障卡补换卡"]
    assert names("shebao") == cards
    assert names("sbk") == cards
    assert names("SBK") == cards
    assert names("社保") == cards
    assert names("she bao ka") == cards
    assert names("补换") == ["社会保障卡补换卡"]
    assert names("dibao") == ["最低生活保障申请"]
    assert names("db") == ["最低生活保障申请"]
    assert names("zdshbzsq") == ["最低生活保障申请"]
    assert names("JZ-002") == ["临时救助申请"]
    assert names("shjz") == ["临时救助申请", "最低生活保障申请"]  # the category 社会救助 by its initials
    assert names("%") == []  # nothing searchable left: no match, not every row
    assert names("xyz") == []


def test_search_pages_by_code_with_a_cursor(tree, api):
    from tests.govservice.fixtures import build_centre

    setup = build_centre(tree.a)
    with atomic():
        for number in range(3, 8):
            add_item(setup.centre, setup.category, f"SK-{number:03d}", f"社保卡业务{number}")
    first = api(None, "get", "/api/v1/govservice/guides?q=sbk&limit=3").json
    assert [item["code"] for item in first["items"]] == ["SK-001", "SK-002", "SK-003"]
    second = api(None, "get", f"/api/v1/govservice/guides?q=sbk&limit=3&cursor={first['next_cursor']}").json
    assert [item["code"] for item in second["items"]] == ["SK-004", "SK-005", "SK-006"]
    third = api(None, "get", f"/api/v1/govservice/guides?q=sbk&limit=3&cursor={second['next_cursor']}").json
    assert ([item["code"] for item in third["items"]], third["next_cursor"]) == (["SK-007"], None)
    bad = api(None, "get", "/api/v1/govservice/guides?cursor=WzFd")
    assert (bad.status_code, bad.json["code"]) == (422, "validation_failed")


def test_normalise_folds_width_and_drops_punctuation():
    assert normalise("ＳＢＫ－００１ 社保·卡") == "sbk001社保卡"
    assert search_key("社保卡") == "社保卡|shebaoka|sbk"


def test_the_demo_catalogue_has_the_eight_categories(db, api):
    with atomic():
        seed_identity()
        seed_govservice()
    centre = database.session.scalar(sa.select(Centre))
    categories = api(None, "get", f"/api/v1/govservice/centres/{centre.public_id}/categories").json
    assert [c["name"] for c in categories] == [
        "社会保障",
        "劳动保障",
        "医疗保险",
        "计划生育",
        "非正规劳动组织",
        "社会救助",
        "社保卡",
        "工会医疗",
    ]
    assert all(c["item_count"] >= 3 for c in categories)
    found = api(None, "get", f"/api/v1/govservice/guides?centre={centre.public_id}&q=sbk").json["items"]
    assert {item["category"]["name"] for item in found} == {"社保卡"}
    windows = api(None, "get", f"/api/v1/govservice/centres/{centre.public_id}/windows").json
    assert [w["number"] for w in windows] == [1, 2, 3]
    bookable = next(item for item in found if item["bookable"])
    days = api(None, "get", f"/api/v1/govservice/guides/{bookable['id']}/availability").json["days"]
    assert any(day["slots"] for day in days)
