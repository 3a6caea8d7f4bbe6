"""Online applications (办件): the prefilled form, materials (profile, reuse, private uploads), every transition and
the forbidden ones, parallel and serial routing, notices, access (other communities, departments, delegates) and the
staff worklists."""

from __future__ import annotations

import io
from datetime import date
from types import SimpleNamespace

import pytest
import sqlalchemy as sa

from app.auth.models import RoleAssignment
from app.db import atomic, utcnow
from app.extensions import db as database
from app.files.services import upload_file
from govservice.application_models import ApplicationEvent, ApplicationMaterial, MaterialSource
from govservice.department_models import Department
from govservice.models import (
    Category,
    Centre,
    GuideItem,
    GuideMaterial,
    GuideVersion,
    ItemKind,
    MaterialForm,
    VersionStatus,
)
from govservice.search import search_key
from tests.community.fixtures import make_delegation
from tests.core.test_files import PNG
from tests.govservice.fixtures import add, at, notices

API = "/api/v1/govservice"
MANAGE = f"{API}/manage"

MATERIALS = (
    # code, name, profile_fact, reusable
    ("id_card", "居民身份证", "document", False),
    ("hukou_book", "户口簿", None, True),
    ("photo", "一寸免冠照片", None, False),
)


def add_online_item(centre, category, code: str, name: str, *, promised_days: int = 5) -> GuideItem:
    """A published, online-able 承诺件 with the three MATERIALS."""
    item = add(GuideItem(centre_id=centre.id, code=code))
    version = add(
        GuideVersion(
            item_id=item.id,
            centre_id=centre.id,
            number=1,
            status=VersionStatus.published,
            published_at=utcnow(),
            category_id=category.id,
            name=name,
            kind=ItemKind.promised if promised_days else ItemKind.immediate,
            promised_days=promised_days,
            statutory_days=20,
            visits=0,
            online=True,
            search=search_key(name, code),
        )
    )
    for position, (mcode, mname, fact, reusable) in enumerate(MATERIALS, start=1):
        add(
            GuideMaterial(
                version_id=version.id,
                position=position,
                code=mcode,
                name=mname,
                form=MaterialForm.electronic,
                profile_fact=fact,
                reusable=reusable,
            )
        )
    return item


def build(tree, *, promised_days: int = 5) -> SimpleNamespace:
    """Community A's centre with online items 城乡居民养老保险参保登记 (A) and 临时救助申请 (B), an offline item,
    and two departments of the street (社保所, 民政科)."""
    with atomic():
        centre = add(Centre(region_id=tree.a.id, name="幸福社区党群服务中心"))
        category = add(Category(centre_id=centre.id, name="社会保障", search=search_key("社会保障")))
        item = add_online_item(centre, category, "SB-101", "城乡居民养老保险参保登记", promised_days=promised_days)
        other = add_online_item(centre, category, "SJ-201", "临时救助申请", promised_days=promised_days)
        offline = add(GuideItem(centre_id=centre.id, code="OFF-1"))
        add(
            GuideVersion(
                item_id=offline.id,
                centre_id=centre.id,
                number=1,
                status=VersionStatus.published,
                published_at=utcnow(),
                category_id=category.id,
                name="仅窗口办理",
                search="",
            )
        )
        d1 = add(Department(region_id=tree.street.id, code="SBS", name="社会保障事务所"))
        d2 = add(Department(region_id=tree.street.id, code="MZK", name="民政科"))
    return SimpleNamespace(centre=centre, category=category, item=item, other=other, offline=offline, d1=d1, d2=d2)


def handler_of(make_user, department, role: str = "handler", name: str | None = None):
    user = make_user(name or f"{role}@{department.code}")
    with atomic():
        database.session.add(
            RoleAssignment(user_id=user.id, role=role, scope_kind="department", scope_id=department.id)
        )
    return user


def upload(user) -> str:
    return upload_file(user=user, stream=io.BytesIO(PNG), filename="scan.png").public_id


def uploads(user, *codes: str) -> list[dict]:
    return [{"code": code, "file_ids": [upload(user)]} for code in codes]


def submit(api, user, item, *, materials=None, **extra):
    body = {
        "item_id": item.public_id,
        "materials": uploads(user, "hukou_book", "photo") if materials is None else materials,
        **extra,
    }
    return api(user, "post", f"{API}/applications", json=body)


def act(api, user, application_id: str, action: str, **body):
    return api(user, "post", f"{MANAGE}/applications/{application_id}/{action}", json=body)


def route(api, staff, setup, mode: str, *departments, item=None):
    response = api(
        staff,
        "put",
        f"{MANAGE}/guides/{(item or setup.item).public_id}/routing",
        json={"mode": mode, "department_ids": [d.public_id for d in departments]},
    )
    assert response.status_code == 200, response.json
    return response


@pytest.fixture
def gov(tree):
    return build(tree)


@pytest.fixture
def applied(api, gov, resident):
    """An application by 张三 for item A, 待预审."""
    user, _resident = resident
    response = submit(api, user, gov.item)
    assert response.status_code == 201, response.json
    return response.json


# --- the form and materials ----------------------------------------------------------------------------------------


def test_form_is_prefilled_from_the_profile_and_says_where_each_material_comes_from(api, gov, resident):
    user, person = resident
    form = api(user, "get", f"{API}/guides/{gov.item.public_id}/application-form")
    assert form.status_code == 200, form.json
    assert form.json["applicant"]["name"] == "张三"
    assert form.json["applicant"]["document"] == person.document_masked
    assert form.json["applicant"]["document_type"] == "居民身份证"
    assert [(m["code"], m["supplied_by"]) for m in form.json["materials"]] == [
        ("id_card", "profile"),
        ("hukou_book", "upload"),
        ("photo", "upload"),
    ]
    assert form.json["materials"][0]["supplied_note"] == f"居民身份证 {person.document_masked}"


def test_offline_item_cannot_be_applied_for_online(api, gov, resident):
    user, _ = resident
    response = submit(api, user, gov.offline, materials=[])
    assert (response.status_code, response.json["code"]) == (409, "not_online")


def test_missing_materials_are_listed_and_nothing_is_written(api, gov, resident):
    user, _ = resident
    response = submit(api, user, gov.item, materials=uploads(user, "photo"))
    assert (response.status_code, response.json["code"]) == (422, "materials_missing")
    assert response.json["details"]["materials"] == [{"code": "hukou_book", "name": "户口簿"}]
    assert database.session.scalar(sa.select(sa.func.count()).select_from(ApplicationMaterial)) == 0
    unknown = submit(api, user, gov.item, materials=uploads(user, "hukou_book", "photo", "passport"))
    assert (unknown.status_code, unknown.json["code"]) == (422, "material_unknown")


def test_someone_elses_file_cannot_be_submitted(api, gov, resident, make_user):
    user, _ = resident
    stranger = make_user("陌生人")
    response = submit(api, user, gov.item, materials=[*uploads(user, "photo"), *uploads(stranger, "hukou_book")])
    assert response.status_code == 404


def test_profile_supplies_the_id_card_and_uploads_are_private(api, gov, resident, applied, staff_a, make_user):
    user, _ = resident
    materials = {m["code"]: m for m in applied["materials"]}
    assert (materials["id_card"]["source"], materials["id_card"]["file_id"]) == ("profile", None)
    assert materials["photo"]["source"] == "upload"
    photo = materials["photo"]["file_id"]
    assert api(user, "get", f"/api/v1/files/{photo}").status_code == 200
    assert api(staff_a, "get", f"/api/v1/files/{photo}").status_code == 200
    assert api(make_user("路人"), "get", f"/api/v1/files/{photo}").status_code == 404


def test_an_earlier_accepted_submission_supplies_a_reusable_material_by_reference(api, gov, resident, applied, staff_a):
    user, _ = resident
    first_hukou = next(m for m in applied["materials"] if m["code"] == "hukou_book")["file_id"]
    # Not yet accepted: the second application must upload again.
    form = api(user, "get", f"{API}/guides/{gov.other.public_id}/application-form").json
    assert {m["code"]: m["supplied_by"] for m in form["materials"]}["hukou_book"] == "upload"
    assert act(api, staff_a, applied["id"], "accept").status_code == 200

    form = api(user, "get", f"{API}/guides/{gov.other.public_id}/application-form").json
    assert {m["code"]: m["supplied_by"] for m in form["materials"]}["hukou_book"] == "reused"
    second = submit(api, user, gov.other, materials=uploads(user, "photo"))
    assert second.status_code == 201, second.json
    hukou = next(m for m in second.json["materials"] if m["code"] == "hukou_book")
    assert (hukou["source"], hukou["file_id"]) == ("reused", first_hukou)
    # Staff reading the second application may open the referenced file.
    assert api(staff_a, "get", f"/api/v1/files/{first_hukou}").status_code == 200


# --- transitions ---------------------------------------------------------------------------------------------------


def test_pre_review_acceptance_and_completion_without_departments_notify_and_record_each_step(
    api, gov, resident, applied, staff_a, freeze
):
    user, person = resident
    freeze(at(date(2026, 3, 9), 10))
    passed = act(api, staff_a, applied["id"], "pass-review", note="材料齐全")
    assert (passed.status_code, passed.json["status"]) == (200, "awaiting_acceptance")
    accepted = act(api, staff_a, applied["id"], "accept")
    assert accepted.json["status"] == "accepted"
    assert accepted.json["term"]["due_on"] == "2026-03-16"  # five working days from Tuesday 10 March
    done = act(api, staff_a, applied["id"], "complete", outcome="approved", result="已参保，次月起缴费")
    assert (done.status_code, done.json["status"], done.json["outcome"]) == (200, "completed", "approved")
    assert done.json["term"]["on_time"] is True

    history = [(h["action"], h["from_status"], h["to_status"]) for h in done.json["history"]]
    assert history == [
        ("submit", None, "pending_review"),
        ("pass_review", "pending_review", "awaiting_acceptance"),
        ("accept", "awaiting_acceptance", "accepted"),
        ("complete", "accepted", "completed"),
    ]
    assert done.json["history"][1]["actor"] == staff_a.display_name
    assert done.json["history"][1]["reason"] == "材料齐全"
    sent = notices("govservice.application_status")
    assert [n.residents for n in sent] == [[person.id]] * 4
    assert sent[-1].body == "您申请的“城乡居民养老保险参保登记”已办结。已参保，次月起缴费"

    mine = api(user, "get", f"{API}/applications/{applied['id']}")
    assert mine.json["resident"]["name"] == "张*"
    assert mine.json["history"][1]["actor"] is None  # residents do not see staff names


def test_return_refuse_and_withdraw_close_the_application_with_the_reason(api, gov, resident, staff_a):
    user, _ = resident
    ids = [submit(api, user, gov.item).json["id"] for _ in range(3)]
    returned = act(api, staff_a, ids[0], "return", reason="照片不清晰，请重新提交")
    assert (returned.json["status"], returned.json["reason"]) == ("returned", "照片不清晰，请重新提交")
    refused = act(api, staff_a, ids[1], "refuse", reason="不属于本中心受理范围")
    assert refused.json["status"] == "rejected"
    assert refused.json["ended_at"] is not None
    withdrawn = api(user, "post", f"{API}/applications/{ids[2]}/withdraw", json={})
    assert (withdrawn.status_code, withdrawn.json["status"]) == (200, "withdrawn")
    assert act(api, staff_a, ids[0], "return").status_code == 422  # a reason is required


@pytest.mark.parametrize(
    ("steps", "action", "body"),
    [
        ([], "request-correction", {"reason": "补", "materials": ["photo"]}),
        ([], "dispatch", {}),
        ([], "complete", {"outcome": "approved", "result": "好"}),
        ([], "special/end", {}),
        (["accept"], "accept", {}),
        (["accept"], "pass-review", {}),
        (["accept"], "return", {"reason": "迟了"}),
        (["refuse"], "accept", {}),
        (["return"], "pass-review", {}),
        (["withdraw"], "accept", {}),
    ],
)
def test_forbidden_staff_transitions_answer_409_invalid_transition(
    api, gov, resident, applied, staff_a, steps, action, body
):
    user, _ = resident
    for step in steps:
        if step == "withdraw":
            assert api(user, "post", f"{API}/applications/{applied['id']}/withdraw", json={}).status_code == 200
        else:
            assert (
                act(
                    api, staff_a, applied["id"], step, **({"reason": "理由"} if step in ("refuse", "return") else {})
                ).status_code
                == 200
            )
    response = act(api, staff_a, applied["id"], action, **body)
    assert (response.status_code, response.json["code"]) == (409, "invalid_transition"), response.json
    assert response.json["details"]["action"]


def test_resident_cannot_withdraw_after_pre_review_nor_rate_before_completion(api, gov, resident, applied, staff_a):
    user, _ = resident
    act(api, staff_a, applied["id"], "pass-review")
    response = api(user, "post", f"{API}/applications/{applied['id']}/withdraw", json={})
    assert (response.status_code, response.json["code"]) == (409, "invalid_transition")
    rating = api(user, "post", f"{API}/applications/{applied['id']}/rating", json={"score": 5})
    assert (rating.status_code, rating.json["code"]) == (409, "not_rateable")


def test_correction_pauses_then_resumes_and_lists_the_materials(api, gov, resident, applied, staff_a, freeze):
    user, _ = resident
    freeze(at(date(2026, 3, 9), 10))  # Monday
    act(api, staff_a, applied["id"], "accept")
    freeze(at(date(2026, 3, 11), 10))  # Wednesday: two working days used
    asked = act(api, staff_a, applied["id"], "request-correction", reason="户口簿缺户主页", materials=["hukou_book"])
    assert asked.json["status"] == "correction"
    assert asked.json["correction_materials"] == [{"code": "hukou_book", "name": "户口簿"}]
    assert (asked.json["term"]["paused"], asked.json["term"]["due_on"]) == (True, None)
    assert asked.json["term"]["remaining_workdays"] == 3
    assert notices("govservice.application_status")[-1].body.endswith("请补正：户口簿")

    unknown = act(api, staff_a, applied["id"], "request-correction", reason="x", materials=["nope"])
    assert unknown.status_code in (409, 422)
    incomplete = api(
        user, "post", f"{API}/applications/{applied['id']}/correction", json={"materials": uploads(user, "photo")}
    )
    assert (incomplete.status_code, incomplete.json["code"]) == (422, "materials_missing")

    freeze(at(date(2026, 3, 16), 10))  # next Monday: Thu, Fri, Mon paused
    supplied = api(
        user, "post", f"{API}/applications/{applied['id']}/correction", json={"materials": uploads(user, "hukou_book")}
    )
    assert supplied.status_code == 200, supplied.json
    term = supplied.json["term"]
    assert (supplied.json["status"], term["paused_workdays"], term["due_on"]) == ("accepted", 3, "2026-03-19")
    assert term["remaining_workdays"] == 3
    assert [m["round"] for m in supplied.json["materials"] if m["code"] == "hukou_book"] == [0, 1]


def test_special_procedure_pauses_the_clock_and_returns_where_it_was(api, gov, resident, applied, staff_a, freeze):
    freeze(at(date(2026, 3, 9), 10))
    act(api, staff_a, applied["id"], "accept")
    started = act(api, staff_a, applied["id"], "special", reason="需入户核查")
    assert (started.json["status"], started.json["term"]["paused"]) == ("special", True)
    assert (
        act(api, staff_a, applied["id"], "complete", outcome="approved", result="x").json["code"]
        == "invalid_transition"
    )
    freeze(at(date(2026, 3, 12), 10))  # Tue, Wed, Thu paused
    ended = act(api, staff_a, applied["id"], "special/end", note="核查完毕")
    assert (ended.json["status"], ended.json["term"]["due_on"]) == ("accepted", "2026-03-19")


# --- routing -------------------------------------------------------------------------------------------------------


def test_parallel_routing_completes_when_every_department_approved(
    api, gov, resident, applied, staff_a, make_user, make_staff, tree
):
    route(api, make_staff(tree.street), gov, "parallel", gov.d1, gov.d2)
    h1, h2 = handler_of(make_user, gov.d1), handler_of(make_user, gov.d2)
    act(api, staff_a, applied["id"], "accept")
    dispatched = act(api, staff_a, applied["id"], "dispatch")
    assert dispatched.json["status"] == "processing"
    assert [d["status"] for d in dispatched.json["departments"]] == ["active", "active"]
    decide = f"{MANAGE}/applications/{applied['id']}/departments"
    first = api(h1, "post", f"{decide}/{gov.d1.public_id}/decide", json={"outcome": "approved", "result": "社保所同意"})
    assert (first.status_code, first.json["status"]) == (200, "processing")
    # A handler of the first department cannot decide for the second.
    assert (
        api(h1, "post", f"{decide}/{gov.d2.public_id}/decide", json={"outcome": "approved", "result": "x"}).status_code
        == 404
    )
    again = api(h1, "post", f"{decide}/{gov.d1.public_id}/decide", json={"outcome": "denied", "result": "改主意"})
    assert (again.status_code, again.json["code"]) == (409, "task_not_active")
    last = api(h2, "post", f"{decide}/{gov.d2.public_id}/decide", json={"outcome": "approved", "result": "民政科同意"})
    assert (last.json["status"], last.json["outcome"], last.json["result"]) == (
        "completed",
        "approved",
        "社保所同意；民政科同意",
    )
    assert sum(h["action"] == "complete" for h in last.json["history"]) == 1


def test_parallel_routing_any_denial_denies_and_cancels_the_rest(
    api, gov, resident, applied, staff_a, make_user, make_staff, tree
):
    route(api, make_staff(tree.street), gov, "parallel", gov.d1, gov.d2)
    h2 = handler_of(make_user, gov.d2)
    act(api, staff_a, applied["id"], "accept")
    act(api, staff_a, applied["id"], "dispatch")
    denied = api(
        h2,
        "post",
        f"{MANAGE}/applications/{applied['id']}/departments/{gov.d2.public_id}/decide",
        json={"outcome": "denied", "result": "家庭收入超过标准"},
    )
    assert (denied.json["status"], denied.json["outcome"]) == ("completed", "denied")
    assert [d["status"] for d in denied.json["departments"]] == ["cancelled", "denied"]


def test_serial_routing_passes_from_one_department_to_the_next(
    api, gov, resident, applied, staff_a, make_user, make_staff, tree
):
    route(api, make_staff(tree.street), gov, "serial", gov.d2, gov.d1)
    h1, h2 = handler_of(make_user, gov.d1), handler_of(make_user, gov.d2)
    act(api, staff_a, applied["id"], "accept")
    dispatched = act(api, staff_a, applied["id"], "dispatch")
    assert [(d["department"]["code"], d["status"]) for d in dispatched.json["departments"]] == [
        ("MZK", "active"),
        ("SBS", "waiting"),
    ]
    decide = f"{MANAGE}/applications/{applied['id']}/departments"
    early = api(h1, "post", f"{decide}/{gov.d1.public_id}/decide", json={"outcome": "approved", "result": "x"})
    assert (early.status_code, early.json["code"]) == (409, "task_not_active")
    queue = api(h1, "get", f"{MANAGE}/departments/{gov.d1.public_id}/applications?queue=waiting")
    assert [a["id"] for a in queue.json] == [applied["id"]]
    step = api(
        h2, "post", f"{decide}/{gov.d2.public_id}/decide", json={"outcome": "approved", "result": "民政科审核通过"}
    )
    assert [d["status"] for d in step.json["departments"]] == ["approved", "active"]
    assert step.json["status"] == "processing"
    done = api(h1, "post", f"{decide}/{gov.d1.public_id}/decide", json={"outcome": "approved", "result": "准予参保"})
    assert (done.json["status"], done.json["outcome"]) == ("completed", "approved")


def test_routing_rules(api, gov, resident, applied, staff_a, staff_b, make_staff, tree):
    act(api, staff_a, applied["id"], "accept")
    none = act(api, staff_a, applied["id"], "dispatch")
    assert (none.status_code, none.json["code"]) == (409, "routing_not_configured")
    far = make_staff(tree.c)
    with atomic():
        elsewhere = add(Department(region_id=tree.c.id, code="FAR", name="远方科"))
    bad = api(
        staff_a,
        "put",
        f"{MANAGE}/guides/{gov.item.public_id}/routing",
        json={"mode": "serial", "department_ids": [elsewhere.public_id]},
    )
    assert bad.status_code == 404
    assert api(far, "get", f"{MANAGE}/guides/{gov.item.public_id}/routing").status_code == 404
    route(api, staff_a, gov, "serial", gov.d1)
    got = api(staff_a, "get", f"{MANAGE}/guides/{gov.item.public_id}/routing")
    assert (got.json["mode"], [d["code"] for d in got.json["departments"]]) == ("serial", ["SBS"])
    assert [d["code"] for d in got.json["available_departments"]] == ["MZK", "SBS"]  # not 远方科
    direct = act(api, staff_a, applied["id"], "complete", outcome="approved", result="x")
    assert (direct.status_code, direct.json["code"]) == (409, "routing_configured")


# --- ratings -------------------------------------------------------------------------------------------------------


def test_rating_after_completion_once(api, gov, resident, applied, staff_a):
    user, _ = resident
    act(api, staff_a, applied["id"], "accept")
    act(api, staff_a, applied["id"], "complete", outcome="approved", result="办好了")
    bad = api(user, "post", f"{API}/applications/{applied['id']}/rating", json={"score": 6})
    assert bad.status_code == 422
    rated = api(user, "post", f"{API}/applications/{applied['id']}/rating", json={"score": 4, "comment": "很快"})
    assert (rated.status_code, rated.json["score"]) == (201, 4)
    again = api(user, "post", f"{API}/applications/{applied['id']}/rating", json={"score": 1})
    assert (again.status_code, again.json["code"]) == (409, "already_rated")
    assert api(user, "get", f"{API}/applications/{applied['id']}").json["rating"]["comment"] == "很快"
    assert api(staff_a, "post", f"{API}/applications/{applied['id']}/rating", json={"score": 1}).status_code == 404


# --- access --------------------------------------------------------------------------------------------------------


def test_staff_of_another_community_and_other_departments_see_nothing(
    api, gov, applied, staff_b, make_staff, make_user, tree
):
    far = make_staff(tree.c)
    outsider_handler = handler_of(make_user, gov.d2)
    for stranger in (staff_b, far, outsider_handler):
        assert api(stranger, "get", f"{API}/applications/{applied['id']}").status_code == 404
        assert act(api, stranger, applied["id"], "accept").status_code == 404
    assert api(staff_b, "get", f"{MANAGE}/centres/{gov.centre.public_id}/applications").status_code == 404
    assert api(staff_b, "get", f"{MANAGE}/centres/{gov.centre.public_id}/application-stats").status_code == 404
    assert api(outsider_handler, "get", f"{MANAGE}/departments/{gov.d1.public_id}/applications").status_code == 404
    grid = make_staff(tree.a, role="grid_worker")
    assert act(api, grid, applied["id"], "accept").status_code == 403
    assert api(make_user("路人甲"), "get", f"{API}/applications/{applied['id']}").status_code == 404
    # A street's staff reach the community centre's applications (a region above).
    assert api(make_staff(tree.street), "get", f"{API}/applications/{applied['id']}").status_code == 200


def test_delegate_applies_only_with_the_applications_scope(api, gov, make_resident, tree):
    daughter_user, daughter = make_resident("李女儿", sequence="992", community=tree.a)
    _none, mother = make_resident("王奶奶", sequence="993", account=False, community=tree.a)
    make_delegation(daughter, mother, ["appointments"])
    denied = submit(api, daughter_user, gov.item, for_resident_id=mother.public_id)
    assert (denied.status_code, denied.json["code"]) == (403, "delegation_denied")
    stranger_user, _ = make_resident("路人", sequence="994", community=tree.b)
    assert submit(api, stranger_user, gov.item, for_resident_id=mother.public_id).status_code == 404

    with atomic():
        database.session.execute(
            sa.text("UPDATE accounts_delegations SET scopes = ARRAY['appointments','applications']")
        )
    made = submit(api, daughter_user, gov.item, for_resident_id=mother.public_id)
    assert made.status_code == 201, made.json
    assert (made.json["via"], made.json["resident"]["id"]) == ("delegate", mother.public_id)
    assert api(daughter_user, "get", f"{API}/applications/{made.json['id']}").status_code == 200
    assert [a["id"] for a in api(daughter_user, "get", f"{API}/applications").json["items"]] == [made.json["id"]]


def test_staff_cannot_apply_online_for_a_resident_without_a_delegation(api, gov, make_resident, staff_a, tree):
    _none, person = make_resident("赵大爷", sequence="995", account=False, community=tree.a)
    response = submit(api, staff_a, gov.item, for_resident_id=person.public_id)
    assert response.status_code == 403


# --- worklists -----------------------------------------------------------------------------------------------------


def test_worklists_filter_by_queue_and_paginate_in_constant_statements(
    api, gov, resident, staff_a, count_queries, freeze
):
    user, _ = resident
    freeze(at(date(2026, 3, 2), 10))  # Monday
    ids = [submit(api, user, gov.item).json["id"] for _ in range(6)]
    for application_id in ids[:4]:
        act(api, staff_a, application_id, "accept")  # due Monday 9 March
    act(api, staff_a, ids[3], "request-correction", reason="缺照片", materials=["photo"])
    act(api, staff_a, ids[4], "pass-review")
    base = f"{MANAGE}/centres/{gov.centre.public_id}/applications"

    def queue(name, **params):
        query = "&".join(f"{k}={v}" for k, v in {"queue": name, **params}.items())
        response = api(staff_a, "get", f"{base}?{query}")
        assert response.status_code == 200, response.json
        return response

    assert [a["id"] for a in queue("pending_review").json] == [ids[5]]
    assert [a["id"] for a in queue("awaiting_acceptance").json] == [ids[4]]
    assert [a["id"] for a in queue("correction").json] == [ids[3]]
    assert queue("overdue").json == []
    assert queue("due_soon").json == []
    freeze(at(date(2026, 3, 6), 10))  # Friday: due Monday is one working day away
    assert {a["id"] for a in queue("due_soon").json} == set(ids[:3])
    freeze(at(date(2026, 3, 10), 10))  # Tuesday: one working day overdue
    overdue = queue("overdue")
    assert {a["id"] for a in overdue.json} == set(ids[:3])
    assert (overdue.json[0]["term"]["overdue_workdays"], overdue.json[0]["term"]["overdue_days"]) == (1, 1)
    assert '"total": 3' in overdue.headers["X-Pagination"]

    with count_queries() as small:
        assert len(queue("all", page_size=2).json) == 2
    with count_queries() as large:
        assert len(queue("all", page_size=6).json) == 6
    assert len(small) == len(large)


def test_department_worklist_counts_statements_independent_of_page_size(
    api, gov, resident, staff_a, make_user, make_staff, tree, count_queries
):
    user, _ = resident
    route(api, make_staff(tree.street), gov, "parallel", gov.d1)
    handler = handler_of(make_user, gov.d1)
    for _ in range(4):
        application_id = submit(api, user, gov.item).json["id"]
        act(api, staff_a, application_id, "accept")
        act(api, staff_a, application_id, "dispatch")
    path = f"{MANAGE}/departments/{gov.d1.public_id}/applications"
    with count_queries() as small:
        assert len(api(handler, "get", f"{path}?page_size=1").json) == 1
    with count_queries() as large:
        assert len(api(handler, "get", f"{path}?page_size=4").json) == 4
    assert len(small) == len(large)


def test_every_transition_is_recorded_with_who_and_why(api, gov, resident, applied, staff_a):
    act(api, staff_a, applied["id"], "accept", note="当场受理")
    events = database.session.scalars(sa.select(ApplicationEvent).order_by(ApplicationEvent.id)).all()
    assert [(e.action, e.actor_user_id, e.reason) for e in events][-1] == ("accept", staff_a.id, "当场受理")
    assert all(e.at is not None for e in events)
    assert {m.source for m in database.session.scalars(sa.select(ApplicationMaterial))} == {
        MaterialSource.profile,
        MaterialSource.upload,
    }


def test_a_repeated_submission_with_the_same_idempotency_key_creates_one_application(api, gov, resident):
    user, _ = resident
    body = {"item_id": gov.item.public_id, "materials": uploads(user, "hukou_book", "photo")}
    headers = {"Idempotency-Key": "apply-once-1"}
    first = api(user, "post", f"{API}/applications", json=body, headers=dict(headers))
    again = api(user, "post", f"{API}/applications", json=body, headers=dict(headers))
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert again.json["id"] == first.json["id"]
    assert len(api(user, "get", f"{API}/applications").json["items"]) == 1


def test_a_public_file_is_refused_as_a_material(api, gov, resident):
    from app.files.models import FileVisibility

    user, _ = resident
    public = upload_file(user=user, stream=io.BytesIO(PNG), filename="p.png", visibility=FileVisibility.public)
    response = submit(
        api, user, gov.item, materials=[*uploads(user, "photo"), {"code": "hukou_book", "file_ids": [public.public_id]}]
    )
    assert (response.status_code, response.json["code"]) == (422, "material_file_public")


def test_a_routed_department_cannot_be_deleted_and_an_inactive_one_takes_no_new_work(
    api, gov, applied, staff_a, make_staff, tree
):
    street_staff = make_staff(tree.street)
    route(api, street_staff, gov, "parallel", gov.d1)
    in_use = api(street_staff, "delete", f"{MANAGE}/departments/{gov.d1.public_id}")
    assert (in_use.status_code, in_use.json["code"]) == (409, "department_in_use")
    deactivated = api(street_staff, "patch", f"{MANAGE}/departments/{gov.d1.public_id}", json={"is_active": False})
    assert deactivated.status_code == 200
    act(api, staff_a, applied["id"], "accept")
    refused = act(api, staff_a, applied["id"], "dispatch")
    assert (refused.status_code, refused.json["code"]) == (409, "department_inactive")
    assert api(staff_a, "get", f"{API}/applications/{applied['id']}").json["status"] == "accepted"
