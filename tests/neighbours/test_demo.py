"""The demo seeds 邻里圈 in 幸福社区: the tenant sees the posts, the comment thread, and the running group."""

from __future__ import annotations

from app.demo import seed_demo
from tests.conftest import extra_app

N = "/api/v1/neighbours"


def test_demo_posts_comments_and_group_are_seeded(database_url, redis_url, committed_db):
    with extra_app(database_url, redis_url, DEMO_MODE=True) as application:
        assert "neighbours" in seed_demo()
        client = application.test_client()
        token = client.post("/api/v1/auth/dev-login", json={"phone": "+8619900000004"}).json["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        feed = client.get(f"{N}/posts", headers=headers).json["items"]
        # The tenant lives in 2号楼: 王丽's 1号楼-only post is not for him.
        assert {post["topic"] for post in feed} == {"pets", "carpool"}
        cat = next(post for post in feed if post["topic"] == "pets")
        assert (cat["like_count"], cat["liked"], cat["comment_count"]) == (1, True, 2)
        thread = client.get(f"{N}/posts/{cat['id']}/comments", headers=headers).json["items"]
        assert [reply["text"] for reply in thread[0]["replies"]] == ["太感谢了！"]
        (group,) = client.get(f"{N}/groups", headers=headers).json["items"]
        assert (group["name"], group["member_count"], group["membership"]) == ("晨跑小组", 2, "active")
        posts = client.get(f"{N}/groups/{group['id']}/posts", headers=headers).json["items"]
        assert [post["text"] for post in posts] == ["明早 6:30 北门见，绕公园两圈。"]
