"""Cross-tenant factories for /api/v1/neighbours (see world.py).

Posts, groups and activities of community A are open to its residents: the owner's neighbour (same community) is a
legitimate reader and gets 403, not 404, where only the author or the group's owner may act. Residents of
community B, vendors and staff of B are outsiders (404). Moderation and activity management are staff work of A.
"""

from __future__ import annotations

import io
from datetime import timedelta

from app.db import utcnow
from tests.core.test_files import PNG
from tests.fault.tenant.notices import resident_b
from tests.fault.tenant.world import Case, World, resource

N = "/api/v1/neighbours"
POSTS = f"{N}/posts"
GROUPS = f"{N}/groups"
MANAGE = f"{N}/manage"


def resident_case(world: World, params: dict, *, body: dict | None = None, owner="owner", **more) -> Case:
    """A resident's action on something every resident of A sees: residents of B are outsiders too."""
    more.setdefault("visible_to", ("neighbour",))
    return Case(
        params,
        owner=owner,
        body=body,
        outsiders=("resident_b", *more.pop("outsiders", ())),
        extra={"resident_b": resident_b(world), **more.pop("extra", {})},
        **more,
    )


def staff_case(world: World, params: dict, *, manage: bool = True, body: dict | None = None) -> Case:
    # Moderation and activity management are for staff of A (a grid worker only reads: 403); residents hold no role.
    return Case(params, owner="staff_a", body=body, forbidden=("grid_a",) if manage else (), outsiders=("owner",))


def post(world: World, author: str = "owner", **fields) -> str:
    body = {"topic": "pets", "text": "谁家的猫在楼下？", **fields}
    return world.ok(author, "post", POSTS, json=body, status=201)["id"]


def comment(world: World, author: str = "owner", post_id: str | None = None) -> str:
    post_id = post_id or post(world, "neighbour")
    return world.ok(author, "post", f"{POSTS}/{post_id}/comments", json={"text": "我看见了"}, status=201)["id"]


def activity(world: World, *, publish: bool = True, **fields) -> str:
    starts = utcnow() + timedelta(days=3)
    body = {
        "community_id": world.tree.a.public_id,
        "title": "河道清洁",
        "description": "周末一起清理河道",
        "place": "党群服务中心",
        "starts_at": starts.isoformat(),
        "ends_at": (starts + timedelta(hours=2)).isoformat(),
        "signup_deadline": (starts - timedelta(hours=12)).isoformat(),
        "capacity": 5,
        "publish": publish,
        **fields,
    }
    return world.ok("staff_a", "post", f"{MANAGE}/activities", json=body, status=201)["id"]


def group(world: World, owner: str = "owner", *, closed: bool = False) -> str:
    name = f"晨跑小组{len(world._cache)}"
    world._cache[f"group:{name}"] = True
    return world.ok(owner, "post", GROUPS, json={"name": name, "closed": closed}, status=201)["id"]


# --- posts, comments, likes, reports ----------------------------------------------------------------------------------


@resource(f"{POSTS}/{{post_id}}", "get")
@resource(f"{POSTS}/{{post_id}}/comments", ("get", "post"))
@resource(f"{POSTS}/{{post_id}}/like", ("post", "delete"))
def post_open(world: World, method: str) -> Case:
    post_id = post(world)
    if method == "delete":
        world.ok("owner", "post", f"{POSTS}/{post_id}/like")
    return resident_case(world, {"post_id": post_id}, body={"text": "同问"} if method == "post" else None)


@resource(f"{POSTS}/{{post_id}}", "delete")
def post_delete(world: World, method: str) -> Case:
    # Only the author deletes: the neighbour sees the post but may not delete it (403).
    return resident_case(world, {"post_id": post(world)}, forbidden=("neighbour",))


@resource(f"{POSTS}/{{post_id}}/reports", "post")
def post_report(world: World, method: str) -> Case:
    return resident_case(world, {"post_id": post(world, "neighbour")}, body={"reason": "spam"})


@resource(f"{N}/comments/{{comment_id}}", "delete")
def comment_delete(world: World, method: str) -> Case:
    return resident_case(world, {"comment_id": comment(world)}, forbidden=("neighbour",))


@resource(f"{N}/comments/{{comment_id}}/replies", "get")
@resource(f"{N}/comments/{{comment_id}}/reports", "post")
def comment_open(world: World, method: str) -> Case:
    author = "neighbour" if method == "post" else "owner"
    return resident_case(world, {"comment_id": comment(world, author)}, body={"reason": "abuse"})


# --- groups -----------------------------------------------------------------------------------------------------------


@resource(f"{GROUPS}/{{group_id}}", "get")
@resource(f"{GROUPS}/{{group_id}}/posts", "get")
def group_open(world: World, method: str) -> Case:
    return resident_case(world, {"group_id": group(world)})


@resource(f"{GROUPS}/{{group_id}}/join", "post")
def group_join(world: World, method: str) -> Case:
    return resident_case(world, {"group_id": group(world, "neighbour")}, body={})


@resource(f"{GROUPS}/{{group_id}}/leave", "post")
def group_leave(world: World, method: str) -> Case:
    group_id = group(world, "neighbour")
    world.ok("owner", "post", f"{GROUPS}/{group_id}/join")
    # The neighbour owns the group and cannot leave it (409): not called as an outsider.
    return resident_case(world, {"group_id": group_id}, body={})


@resource(f"{GROUPS}/{{group_id}}/requests", "get")
def group_requests(world: World, method: str) -> Case:
    # Only the group's owner reads join requests; the neighbour sees the group but not its requests (403).
    return resident_case(world, {"group_id": group(world, closed=True)}, forbidden=("neighbour",))


@resource(f"{GROUPS}/{{group_id}}/requests/{{user_id}}/approve", "post")
def group_approve(world: World, method: str) -> Case:
    group_id = group(world, closed=True)
    world.ok("neighbour", "post", f"{GROUPS}/{group_id}/join")
    # The neighbour may not approve their own request (403).
    return resident_case(
        world, {"group_id": group_id, "user_id": world.neighbour.public_id}, body={}, forbidden=("neighbour",)
    )


# --- activities -------------------------------------------------------------------------------------------------------


@resource(f"{N}/activities/{{activity_id}}", "get")
def activity_read(world: World, method: str) -> Case:
    return resident_case(world, {"activity_id": activity(world)})


@resource(f"{N}/activities/{{activity_id}}/signup", ("post", "delete"))
def activity_signup(world: World, method: str) -> Case:
    activity_id = activity(world)
    if method == "delete":
        world.ok("owner", "post", f"{N}/activities/{activity_id}/signup", json={}, status=201)
        return resident_case(world, {"activity_id": activity_id})
    # A family member signs the owner up with the activities scope only: one with every other scope → 403.
    family = world.delegate_without("activities")
    return resident_case(
        world,
        {"activity_id": activity_id},
        body={},
        bodies={"family": {"resident_id": world.owner_resident.public_id}},
        forbidden=("family",),
        extra={"family": family},
    )


@resource(f"{MANAGE}/activities/{{activity_id}}", "get")
@resource(f"{MANAGE}/activities/{{activity_id}}/signups", "get")
def activity_staff_read(world: World, method: str) -> Case:
    return staff_case(world, {"activity_id": activity(world)}, manage=False)


@resource(f"{MANAGE}/activities/{{activity_id}}/publish", "post")
def activity_publish(world: World, method: str) -> Case:
    return staff_case(world, {"activity_id": activity(world, publish=False)}, body={})


@resource(f"{MANAGE}/activities/{{activity_id}}/cancel", "post")
def activity_cancel(world: World, method: str) -> Case:
    return staff_case(world, {"activity_id": activity(world)}, body={"reason": "天气原因"})


@resource(f"{MANAGE}/activities/{{activity_id}}/signups/{{signup_id}}/check-in", "post")
def activity_check_in(world: World, method: str) -> Case:
    activity_id = activity(world, volunteer=True)
    signup_id = world.ok("owner", "post", f"{N}/activities/{activity_id}/signup", json={}, status=201)["id"]
    return staff_case(world, {"activity_id": activity_id, "signup_id": signup_id}, body={})


@resource(f"{MANAGE}/activities/{{activity_id}}/signups/{{signup_id}}/check-out", "post")
def activity_check_out(world: World, method: str) -> Case:
    activity_id = activity(world, volunteer=True)
    signup_id = world.ok("owner", "post", f"{N}/activities/{activity_id}/signup", json={}, status=201)["id"]
    world.ok("staff_a", "post", f"{MANAGE}/activities/{activity_id}/signups/{signup_id}/check-in")
    return staff_case(world, {"activity_id": activity_id, "signup_id": signup_id}, body={})


# --- moderation -------------------------------------------------------------------------------------------------------


@resource(f"{MANAGE}/posts/{{post_id}}/hide", "post")
def post_hide(world: World, method: str) -> Case:
    return staff_case(world, {"post_id": post(world)}, body={"reason": "广告"})


@resource(f"{MANAGE}/posts/{{post_id}}/restore", "post")
def post_restore(world: World, method: str) -> Case:
    post_id = post(world)
    world.ok("staff_a", "post", f"{MANAGE}/posts/{post_id}/hide", json={"reason": "广告"})
    return staff_case(world, {"post_id": post_id}, body={"reason": "核实无问题"})


@resource(f"{MANAGE}/comments/{{comment_id}}/hide", "post")
def comment_hide(world: World, method: str) -> Case:
    return staff_case(world, {"comment_id": comment(world)}, body={"reason": "人身攻击"})


@resource(f"{MANAGE}/comments/{{comment_id}}/restore", "post")
def comment_restore(world: World, method: str) -> Case:
    comment_id = comment(world)
    world.ok("staff_a", "post", f"{MANAGE}/comments/{comment_id}/hide", json={"reason": "人身攻击"})
    return staff_case(world, {"comment_id": comment_id}, body={"reason": "核实无问题"})


@resource(f"{MANAGE}/mutes/{{mute_id}}/lift", "post")
def mute_lift(world: World, method: str) -> Case:
    body = {"community_id": world.tree.a.public_id, "user_id": world.owner.public_id, "days": 7, "reason": "广告"}
    mute_id = world.ok("staff_a", "post", f"{MANAGE}/mutes", json=body, status=201)["id"]
    return staff_case(world, {"mute_id": mute_id}, body={"reason": "已道歉"})


@resource(f"{MANAGE}/images/{{image_id}}/approve", "post")
@resource(f"{MANAGE}/images/{{image_id}}/reject", "post")
def image_review(world: World, method: str) -> Case:
    # The owner signed in by phone (no openid): their post's image waits for staff review.
    upload = world.call(
        "owner",
        "post",
        "/api/v1/files",
        data={"file": (io.BytesIO(PNG), "photo.png"), "visibility": "private"},
        content_type="multipart/form-data",
    )
    assert upload.status_code == 201, upload.get_json()
    image_id = upload.get_json()["id"]
    post(world, image_ids=[image_id])
    return staff_case(world, {"image_id": image_id}, body={"note": "正常"})


@resource(f"{MANAGE}/words/{{word_id}}", "delete")
def word_delete(world: World, method: str) -> Case:
    body = {"word": f"违禁词{len(world._cache)}", "action": "mask", "region_id": world.tree.a.public_id}
    world._cache[body["word"]] = True
    word_id = world.ok("staff_a", "post", f"{MANAGE}/words", json=body, status=201)["id"]
    return staff_case(world, {"word_id": word_id})
