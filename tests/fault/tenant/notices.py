"""Cross-tenant factories for /api/v1/notices (see world.py).

Notices and surveys are staff work of community A (``staff_a``); residents of A whom a published notice or survey
reached read it, so the owner's neighbour in A is a legitimate reader, and a resident of community B is an outsider.
"""

from __future__ import annotations

from datetime import date, timedelta

from app.db import utcnow
from tests.fault.tenant.world import Case, World, resource

N = "/api/v1/notices"
QUESTIONS = [
    {"kind": "single", "title": "您家住几楼", "options": ["1–3 层", "4–6 层", "7 层以上"]},
    {"kind": "rating", "title": "对物业的满意度"},
]


def resident_b(world: World):
    """A verified resident of community B with an account (an outsider to everything of community A)."""

    def build():
        user, resident = world.make_resident("和平居民", born=date(1960, 2, 2), sequence="951", verified=True)
        world.join(resident, world.tree.rooms_b["101"], "head")
        return user

    return world.once("resident_b", build)


def draft(world: World) -> str:
    body = {"region_id": world.tree.a.public_id, "title": "停水通知", "body": "明日 9:00–17:00 停水。"}
    return world.ok("staff_a", "post", N, json=body, status=201)["id"]


def published(world: World) -> str:
    notice_id = draft(world)
    world.ok("staff_a", "post", f"{N}/{notice_id}/publish", json={})
    world.run_jobs()  # the fan-out to the audience's inboxes
    return notice_id


def survey(world: World, *, publish: bool = True) -> str:
    body = {
        "region_id": world.tree.a.public_id,
        "title": "加装电梯意愿调查",
        "description": "请如实填写。",
        "closes_at": (utcnow() + timedelta(days=7)).isoformat(),
        "questions": QUESTIONS,
    }
    survey_id = world.ok("staff_a", "post", f"{N}/surveys", json=body, status=201)["id"]
    if publish:
        world.ok("staff_a", "post", f"{N}/surveys/{survey_id}/publish")
        world.run_jobs()  # the announcement to the audience's inboxes
    return survey_id


def staff_case(world: World, params: dict, *, manage: bool, body: dict | None = None) -> Case:
    # notices.manage is for staff and admins: a grid worker of A may read statistics but not manage (403); a resident
    # holds no role anywhere, so staff work is outside their tenancy (404).
    return Case(params, owner="staff_a", body=body, forbidden=("grid_a",) if manage else (), outsiders=("owner",))


@resource(f"{N}/{{notice_id}}", "get")
def notice_read(world: World, method: str) -> Case:
    # The neighbour lives in A and was reached by the notice too: a legitimate reader.
    return Case(
        {"notice_id": published(world)},
        visible_to=("neighbour",),
        outsiders=("resident_b",),
        extra={"resident_b": resident_b(world)},
    )


@resource(f"{N}/{{notice_id}}", "patch")
def notice_edit(world: World, method: str) -> Case:
    return staff_case(world, {"notice_id": draft(world)}, manage=True, body={"title": "停水通知（更正）"})


@resource(f"{N}/{{notice_id}}/publish", "post")
def notice_publish(world: World, method: str) -> Case:
    return staff_case(world, {"notice_id": draft(world)}, manage=True, body={})


@resource(f"{N}/{{notice_id}}/withdraw", "post")
def notice_withdraw(world: World, method: str) -> Case:
    return staff_case(world, {"notice_id": published(world)}, manage=True, body={"reason": "发错了"})


@resource(f"{N}/{{notice_id}}/pin", "put")
def notice_pin(world: World, method: str) -> Case:
    return staff_case(world, {"notice_id": published(world)}, manage=True, body={"pinned": True})


@resource(f"{N}/{{notice_id}}/preview", "get")
def notice_preview(world: World, method: str) -> Case:
    return staff_case(world, {"notice_id": draft(world)}, manage=True)


@resource(f"{N}/{{notice_id}}/remind", "post")
def notice_remind(world: World, method: str) -> Case:
    return staff_case(world, {"notice_id": published(world)}, manage=True, body={})


@resource(f"{N}/{{notice_id}}/stats", "get")
@resource(f"{N}/{{notice_id}}/unread", "get")
@resource(f"{N}/{{notice_id}}/followup/export", "get")
def notice_statistics(world: World, method: str) -> Case:
    return staff_case(world, {"notice_id": published(world)}, manage=False)


@resource(f"{N}/surveys/{{survey_id}}", "get")
def survey_read(world: World, method: str) -> Case:
    return Case(
        {"survey_id": survey(world)},
        visible_to=("neighbour",),
        outsiders=("resident_b",),
        extra={"resident_b": resident_b(world)},
    )


@resource(f"{N}/surveys/{{survey_id}}/responses", "post")
def survey_answer(world: World, method: str) -> Case:
    # A family member may answer for the owner with the activities scope only: one holding every other scope → 403.
    family = world.delegate_without("activities")
    return Case(
        {"survey_id": survey(world)},
        body={"answers": {"q1": 0, "q2": 5}},
        bodies={"family": {"answers": {"q1": 1, "q2": 4}, "subject_id": world.owner_resident.public_id}},
        visible_to=("neighbour",),
        outsiders=("resident_b",),
        forbidden=("family",),
        extra={"resident_b": resident_b(world), "family": family},
    )


@resource(f"{N}/surveys/{{survey_id}}/publish", "post")
def survey_publish(world: World, method: str) -> Case:
    return staff_case(world, {"survey_id": survey(world, publish=False)}, manage=True, body={})


@resource(f"{N}/surveys/{{survey_id}}/results", "get")
@resource(f"{N}/surveys/{{survey_id}}/results/export", "get")
def survey_results(world: World, method: str) -> Case:
    return staff_case(world, {"survey_id": survey(world)}, manage=False)
