"""Comments with one level of replies and their pushes, reports that hide, staff hide/restore/mute (audited),
rate limits, groups, and races on likes."""

from __future__ import annotations

import sqlalchemy as sa

from app.audit import AuditEntry
from app.db import atomic
from app.extensions import db as database
from neighbours import posts as post_service
from neighbours.merge import merge_accounts
from neighbours.models import Group, GroupMember, GroupMemberStatus, Like, Post
from tests.community.fixtures import build_tree
from tests.conftest import extra_app, race
from tests.neighbours.conftest import POSTS

GROUPS = "/api/v1/neighbours/groups"
MANAGE = "/api/v1/neighbours/manage"


def _jobs() -> list[tuple]:
    """The outbox rows and push deliveries (for a failure message)."""
    from app.outbox import OutboxRow
    from app.push.models import Delivery

    rows = database.session.execute(sa.select(OutboxRow.job, OutboxRow.args, OutboxRow.status, OutboxRow.last_error))
    deliveries = database.session.execute(sa.select(Delivery.key, Delivery.audience_count))
    return [*rows.all(), *deliveries.all()]


def _inbox(api, user) -> list[tuple[str, str]]:
    response = api(user, "get", "/api/v1/me/inbox")
    assert response.status_code == 200, response.json
    return [(item["event"], item["title"]) for item in response.json["items"]]


# --- comments and pushes -------------------------------------------------------------------------------------------


def test_comments_and_replies_stay_one_level_deep_and_push_the_right_person(
    api, db, tree, neighbour, write_post, run_jobs
):
    author = neighbour(tree.rooms_a["101"], "作者")
    alice = neighbour(tree.rooms_a["102"], "小李")
    bob = neighbour(tree.rooms_a["201"], "小王")
    post = write_post(author, "小区门口新开了面包店")
    url = f"{POSTS}/{post['id']}/comments"

    first = api(alice, "post", url, json={"text": "好吃吗？"})
    assert first.status_code == 201, first.json
    reply = api(bob, "post", url, json={"text": "很好吃", "reply_to": first.json["id"]})
    assert reply.json["reply_to"]["name"] == "小李"
    # Replying to a reply joins the same thread and answers the reply's author.
    deeper = api(alice, "post", url, json={"text": "那我去试试", "reply_to": reply.json["id"]})
    assert deeper.json["reply_to"]["name"] == "小王"
    api(author, "post", url, json={"text": "谢谢捧场"})  # the author's own comment pushes nobody

    page = api(alice, "get", url).json
    assert [c["text"] for c in page["items"]] == ["谢谢捧场", "好吃吗？"]
    thread = page["items"][1]
    assert thread["reply_count"] == 2
    assert [r["text"] for r in thread["replies"]] == ["很好吃", "那我去试试"]
    replies = api(alice, "get", f"/api/v1/neighbours/comments/{first.json['id']}/replies").json
    assert [r["text"] for r in replies["items"]] == ["那我去试试", "很好吃"]
    assert api(alice, "get", f"{POSTS}/{post['id']}").json["comment_count"] == 4

    run_jobs()
    assert _inbox(api, author) == [("neighbours.comment", "小李评论了你的动态")], _jobs()
    assert _inbox(api, alice) == [("neighbours.reply", "小王回复了你的评论")], _jobs()
    assert _inbox(api, bob) == [("neighbours.reply", "小李回复了你的评论")], _jobs()


def test_a_reply_to_a_comment_of_another_post_is_a_404(api, db, tree, neighbour, write_post):
    author = neighbour(tree.rooms_a["101"])
    one, two = write_post(author, "一"), write_post(author, "二")
    comment = api(author, "post", f"{POSTS}/{one['id']}/comments", json={"text": "评论"}).json
    response = api(author, "post", f"{POSTS}/{two['id']}/comments", json={"text": "回复", "reply_to": comment["id"]})
    assert response.status_code == 404
    assert response.json["code"] == "comment_not_found"


def test_comment_pages_cost_the_same_statements_whatever_their_size(
    api, db, tree, neighbour, write_post, count_queries, client, auth_header
):
    author = neighbour(tree.rooms_a["101"])
    post = write_post(author)
    url = f"{POSTS}/{post['id']}/comments"
    for n in range(8):
        parent = api(author, "post", url, json={"text": f"评论{n}"}).json
        api(author, "post", url, json={"text": "回复", "reply_to": parent["id"]})

    def statements(limit: int) -> int:
        headers = auth_header(author)  # a fresh session each time: the same sign-in checks in both
        with count_queries() as queries:
            response = client.get(url, query_string={"limit": limit}, headers=headers)
        assert len(response.json["items"]) == limit
        return len(queries)

    assert statements(2) == statements(8)


# --- reports and staff ---------------------------------------------------------------------------------------------


def test_three_reports_hide_a_post_pending_review_and_staff_restore_it(
    api, db, tree, neighbour, write_post, make_staff
):
    author = neighbour(tree.rooms_a["101"])
    post = write_post(author, "有争议的帖子")
    reporters = [neighbour(tree.rooms_a["102"]) for _ in range(3)]
    url = f"{POSTS}/{post['id']}/reports"
    assert api(reporters[0], "post", url, json={"reason": "spam"}).status_code == 201
    assert api(reporters[0], "post", url, json={"reason": "spam"}).status_code == 201  # once per resident
    assert api(reporters[1], "post", url, json={"reason": "abuse"}).status_code == 201
    assert api(reporters[2], "get", f"{POSTS}/{post['id']}").status_code == 200
    assert api(reporters[2], "post", url, json={"reason": "fraud", "note": "骗钱"}).status_code == 201

    assert api(reporters[0], "get", f"{POSTS}/{post['id']}").status_code == 404
    assert api(reporters[0], "get", POSTS).json["items"] == []
    mine = api(author, "get", f"{POSTS}/{post['id']}").json
    assert (mine["status"], mine["hidden_reason"]) == ("hidden", "reports")

    staff = make_staff(tree.a)
    queue = api(staff, "get", f"{MANAGE}/posts", query_string={"community_id": tree.a.public_id})
    assert [(p["id"], p["report_count"]) for p in queue.json["items"]] == [(post["id"], 3)]
    assert (
        api(make_staff(tree.b), "post", f"{MANAGE}/posts/{post['id']}/restore", json={"reason": "x"}).status_code == 404
    )
    assert (
        api(
            make_staff(tree.a, role="grid_worker"), "post", f"{MANAGE}/posts/{post['id']}/restore", json={"reason": "x"}
        ).status_code
        == 403
    )
    restored = api(staff, "post", f"{MANAGE}/posts/{post['id']}/restore", json={"reason": "核实无问题"})
    assert restored.status_code == 200
    assert restored.json["status"] == "published"
    assert api(reporters[0], "get", f"{POSTS}/{post['id']}").status_code == 200
    entry = database.session.scalar(sa.select(AuditEntry).where(AuditEntry.action == "neighbours.post.restore"))
    assert (entry.target_id, entry.reason, entry.before["report_count"]) == (post["id"], "核实无问题", 3)


def test_staff_hide_a_post_and_a_comment(api, db, tree, neighbour, write_post, make_staff):
    author = neighbour(tree.rooms_a["101"])
    reader = neighbour(tree.rooms_a["102"])
    post = write_post(author)
    comment = api(reader, "post", f"{POSTS}/{post['id']}/comments", json={"text": "骂人的话"}).json
    staff = make_staff(tree.a)
    assert (
        api(
            author, "post", f"/api/v1/neighbours/comments/{comment['id']}/reports", json={"reason": "abuse"}
        ).status_code
        == 201
    )
    reported = api(
        staff, "get", f"{MANAGE}/comments", query_string={"community_id": tree.a.public_id, "state": "reported"}
    )
    assert [(c["id"], c["post_id"], c["report_count"]) for c in reported.json["items"]] == [
        (comment["id"], post["id"], 1)
    ]
    assert (
        api(
            make_staff(tree.b), "get", f"{MANAGE}/comments", query_string={"community_id": tree.a.public_id}
        ).status_code
        == 404
    )
    hidden = api(staff, "post", f"{MANAGE}/comments/{comment['id']}/hide", json={"reason": "人身攻击"})
    assert hidden.status_code == 200
    assert api(author, "get", f"{POSTS}/{post['id']}/comments").json["items"] == []
    assert api(author, "get", f"{POSTS}/{post['id']}").json["comment_count"] == 0
    queue = api(staff, "get", f"{MANAGE}/comments", query_string={"community_id": tree.a.public_id, "state": "hidden"})
    assert [(c["id"], c["hidden_reason"]) for c in queue.json["items"]] == [(comment["id"], "staff")]
    assert api(staff, "post", f"{MANAGE}/posts/{post['id']}/hide", json={"reason": "广告"}).json["status"] == "hidden"
    assert api(reader, "get", f"{POSTS}/{post['id']}").status_code == 404
    again = api(staff, "post", f"{MANAGE}/posts/{post['id']}/hide", json={"reason": "广告"})
    assert again.status_code == 409
    actions = set(database.session.scalars(sa.select(AuditEntry.action).where(AuditEntry.actor_user_id == staff.id)))
    assert actions == {"neighbours.comment.hide", "neighbours.post.hide"}


def test_a_muted_resident_cannot_post_or_comment_until_lifted(api, db, tree, neighbour, write_post, make_staff):
    troll = neighbour(tree.rooms_a["101"])
    post = write_post(troll)
    staff = make_staff(tree.a)
    mute = api(
        staff,
        "post",
        f"{MANAGE}/mutes",
        json={"community_id": tree.a.public_id, "user_id": troll.public_id, "days": 7, "reason": "多次发布广告"},
    )
    assert mute.status_code == 201, mute.json
    refused = api(troll, "post", POSTS, json={"topic": "other", "text": "再发一条"})
    assert refused.status_code == 403
    assert refused.json["code"] == "user_muted"
    assert "until" in refused.json["details"]
    listed = api(staff, "get", f"{MANAGE}/mutes", query_string={"community_id": tree.a.public_id}).json["items"]
    assert [(m["id"], m["user_id"]) for m in listed] == [(mute.json["id"], troll.public_id)]
    assert api(troll, "post", f"{POSTS}/{post['id']}/comments", json={"text": "评论"}).json["code"] == "user_muted"
    # Staff of another community cannot mute here; a resident of another community cannot be muted here.
    outside = api(
        make_staff(tree.b),
        "post",
        f"{MANAGE}/mutes",
        json={"community_id": tree.a.public_id, "user_id": troll.public_id, "days": 1, "reason": "x"},
    )
    assert outside.status_code == 404
    lifted = api(staff, "post", f"{MANAGE}/mutes/{mute.json['id']}/lift", json={"reason": "已道歉"})
    assert lifted.json["lifted_at"] is not None
    assert write_post(troll, "我改正")["text"] == "我改正"
    assert api(staff, "get", f"{MANAGE}/mutes", query_string={"community_id": tree.a.public_id}).json["items"] == []
    actions = set(database.session.scalars(sa.select(AuditEntry.action).where(AuditEntry.actor_user_id == staff.id)))
    assert actions == {"neighbours.mute", "neighbours.mute.lift"}


def test_posting_and_commenting_are_rate_limited(database_url, redis_url, redis, db, tree, neighbour, auth_header):
    author = neighbour(tree.rooms_a["101"])
    with extra_app(
        database_url,
        redis_url,
        RATELIMIT_ENABLED=True,
        NEIGHBOURS_POST_RATE_LIMIT="2 per minute",
        NEIGHBOURS_COMMENT_RATE_LIMIT="3 per minute",
    ) as limited:
        client = limited.test_client()
        headers = auth_header(author)
        statuses = [
            client.post(POSTS, json={"topic": "other", "text": f"帖{n}"}, headers=headers).status_code for n in range(3)
        ]
        assert statuses == [201, 201, 429]
        limited_response = client.post(POSTS, json={"topic": "other", "text": "再来"}, headers=headers)
        assert limited_response.json["code"] == "rate_limited"
        post_id = client.get(POSTS, headers=headers).json["items"][0]["id"]
        url = f"{POSTS}/{post_id}/comments"
        statuses = [client.post(url, json={"text": f"评论{n}"}, headers=headers).status_code for n in range(4)]
        assert statuses == [201, 201, 201, 429]
        # Another resident is not limited by the first one's posts.
        other = neighbour(tree.rooms_a["102"])
        assert (
            client.post(POSTS, json={"topic": "other", "text": "我的"}, headers=auth_header(other)).status_code == 201
        )


# --- groups --------------------------------------------------------------------------------------------------------


def test_open_groups_take_anyone_and_closed_groups_keep_their_posts_to_members(api, db, tree, neighbour, write_post):
    owner = neighbour(tree.rooms_a["101"])
    joiner = neighbour(tree.rooms_a["102"])
    runners = api(owner, "post", GROUPS, json={"name": "晨跑小组"}).json
    assert (runners["member_count"], runners["owner"], runners["membership"]) == (1, True, "active")
    assert api(owner, "post", GROUPS, json={"name": "晨跑小组"}).json["code"] == "group_name_taken"
    joined = api(joiner, "post", f"{GROUPS}/{runners['id']}/join").json
    assert (joined["member_count"], joined["membership"]) == (2, "active")
    assert api(joiner, "post", f"{GROUPS}/{runners['id']}/join").json["member_count"] == 2
    write_post(joiner, "明早六点半", group_id=runners["id"], topic="sports")
    assert [p["text"] for p in api(owner, "get", f"{GROUPS}/{runners['id']}/posts").json["items"]] == ["明早六点半"]
    assert api(owner, "get", POSTS).json["items"] == []  # group posts live in the group's feed
    assert api(joiner, "post", f"{GROUPS}/{runners['id']}/leave").json["member_count"] == 1
    assert api(owner, "post", f"{GROUPS}/{runners['id']}/leave").json["code"] == "group_owner_cannot_leave"
    assert (
        api(joiner, "post", POSTS, json={"topic": "sports", "text": "x", "group_id": runners["id"]}).json["code"]
        == "group_members_only"
    )

    secret = api(owner, "post", GROUPS, json={"name": "业委会筹备", "closed": True}).json
    post = write_post(owner, "筹备会议纪要", group_id=secret["id"])
    asked = api(joiner, "post", f"{GROUPS}/{secret['id']}/join").json
    assert (asked["membership"], asked["member_count"]) == ("pending", 1)
    assert api(joiner, "get", f"{GROUPS}/{secret['id']}/posts").json["code"] == "group_members_only"
    assert api(joiner, "get", f"{POSTS}/{post['id']}").status_code == 404
    requests = api(owner, "get", f"{GROUPS}/{secret['id']}/requests").json["items"]
    assert [r["user_id"] for r in requests] == [joiner.public_id]
    assert api(joiner, "post", f"{GROUPS}/{secret['id']}/requests/{joiner.public_id}/approve").status_code == 403
    approved = api(owner, "post", f"{GROUPS}/{secret['id']}/requests/{joiner.public_id}/approve").json
    assert approved["member_count"] == 2
    assert [p["text"] for p in api(joiner, "get", f"{GROUPS}/{secret['id']}/posts").json["items"]] == ["筹备会议纪要"]

    outsider = neighbour(tree.rooms_b["101"])
    assert api(outsider, "get", f"{GROUPS}/{runners['id']}").status_code == 404
    assert [g["name"] for g in api(joiner, "get", GROUPS).json["items"]] == ["业委会筹备", "晨跑小组"]


# --- races ---------------------------------------------------------------------------------------------------------


def _committed_world(neighbour, count: int):
    tree = build_tree()
    author = neighbour(tree.rooms_a["101"])
    post = post_service.create_post(author, {"topic": "pets", "text": "猫"})
    fans = [neighbour(tree.rooms_a["102"]) for _ in range(count)]
    return post, fans


def test_concurrent_likes_by_different_users_are_all_counted(app, committed_db, neighbour):
    post, fans = _committed_world(neighbour, 20)
    queue = list(fans)

    def like():
        return post_service.like_post(queue.pop(), post.public_id)["like_count"]

    counts = race(app, 20, like)
    assert sorted(counts) == list(range(1, 21))
    assert committed_db.session.scalar(sa.select(Post.like_count).where(Post.id == post.id)) == 20


def test_concurrent_likes_by_one_user_count_once(app, committed_db, neighbour):
    post, (fan,) = _committed_world(neighbour, 1)
    counts = race(app, 8, lambda: post_service.like_post(fan, post.public_id)["like_count"])
    assert set(counts) == {1}
    assert committed_db.session.scalar(sa.select(Post.like_count).where(Post.id == post.id)) == 1


def test_an_account_merge_moves_rows_and_keeps_counts_equal_to_rows(api, db, tree, neighbour, write_post, make_user):
    author = neighbour(tree.rooms_a["101"])
    kept = neighbour(tree.rooms_a["102"])
    folded = make_user("旧账号")  # the same person's second account, holding likes and a comment of its own
    post = write_post(author)
    group = api(author, "post", GROUPS, json={"name": "读书会"}).json
    api(kept, "post", f"{POSTS}/{post['id']}/like")
    api(kept, "post", f"{GROUPS}/{group['id']}/join")
    with atomic():
        post_id = database.session.scalar(sa.select(Post.id).where(Post.public_id == post["id"]))
        group_id = database.session.scalar(sa.select(Group.id).where(Group.public_id == group["id"]))
        database.session.add(Like(post_id=post_id, user_id=folded.id))
        database.session.add(GroupMember(group_id=group_id, user_id=folded.id, status=GroupMemberStatus.active))
        database.session.execute(sa.update(Post).where(Post.id == post_id).values(like_count=2))
        database.session.execute(sa.update(Group).where(Group.id == group_id).values(member_count=3))
    with atomic():
        merge_accounts(folded.id, kept.id)
    seen = api(kept, "get", f"{POSTS}/{post['id']}").json
    assert (seen["like_count"], seen["liked"]) == (1, True)
    assert api(kept, "get", f"{GROUPS}/{group['id']}").json["member_count"] == 2
