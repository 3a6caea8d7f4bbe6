"""Posts and feeds: community isolation, building-only visibility, cursor pages that hold while posts arrive and
likes change, likes counted once, and page statement counts that do not grow with the page."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from app.community.models import Building, Household
from app.db import atomic
from app.extensions import db as database
from neighbours.models import HotSnapshot, Post
from tests.neighbours.conftest import POSTS


def _second_building(tree):
    with atomic():
        building = Building(estate_id=tree.estate_a.id, community_id=tree.a.id, name="2号楼")
        database.session.add(building)
        database.session.flush()
        room = Household(building_id=building.id, community_id=tree.a.id, room="101", floor=1)
        database.session.add(room)
        database.session.flush()
    return building, room


def _texts(response) -> list[str]:
    assert response.status_code == 200, response.json
    return [item["text"] for item in response.json["items"]]


def test_a_verified_resident_posts_and_neighbours_see_it(api, db, tree, neighbour, write_post):
    author = neighbour(tree.rooms_a["101"])
    reader = neighbour(tree.rooms_a["102"])
    post = write_post(author, "周末有人一起打羽毛球吗？", topic="sports")
    assert post["topic"] == "sports"
    assert post["author"]["name"] == "邻居1"
    assert post["mine"] is True

    seen = api(reader, "get", f"{POSTS}/{post['id']}")
    assert seen.status_code == 200
    assert seen.json["text"] == "周末有人一起打羽毛球吗？"
    assert seen.json["mine"] is False
    assert _texts(api(reader, "get", POSTS)) == ["周末有人一起打羽毛球吗？"]


def test_residents_of_another_community_never_see_the_post(api, db, tree, neighbour, write_post, make_staff):
    post = write_post(neighbour(tree.rooms_a["101"]), "幸福社区内部消息")
    outsider = neighbour(tree.rooms_b["101"])
    assert api(outsider, "get", f"{POSTS}/{post['id']}").status_code == 404
    assert _texts(api(outsider, "get", POSTS)) == []
    assert api(outsider, "post", f"{POSTS}/{post['id']}/like").status_code == 404
    assert api(outsider, "post", f"{POSTS}/{post['id']}/comments", json={"text": "路过"}).status_code == 404
    # Naming the other community does not help: it is not theirs.
    response = api(outsider, "get", POSTS, query_string={"community_id": tree.a.public_id})
    assert response.status_code == 404
    # Staff of community B do not see it either; staff of A do.
    assert api(make_staff(tree.b), "get", f"{POSTS}/{post['id']}").status_code == 404
    assert api(make_staff(tree.a), "get", f"{POSTS}/{post['id']}").status_code == 200


def test_unverified_residents_read_but_cannot_post(api, db, tree, neighbour, write_post):
    write_post(neighbour(tree.rooms_a["101"]), "欢迎新邻居")
    newcomer = neighbour(tree.rooms_a["102"], verified=False)
    assert _texts(api(newcomer, "get", POSTS)) == ["欢迎新邻居"]
    refused = api(newcomer, "post", POSTS, json={"topic": "other", "text": "大家好"})
    assert refused.status_code == 403
    assert refused.json["code"] == "resident_not_verified"


def test_someone_living_nowhere_is_told_to_join_a_household(api, db, tree, make_user):
    response = api(make_user("游客"), "get", POSTS)
    assert response.status_code == 403
    assert response.json["code"] == "neighbours_membership_required"


def test_building_only_posts_are_seen_in_that_building_only(api, db, tree, neighbour, write_post):
    _building, other_room = _second_building(tree)
    author = neighbour(tree.rooms_a["101"])
    same_building = neighbour(tree.rooms_a["201"])
    other_building = neighbour(other_room)
    post = write_post(author, "1号楼明天停电检修", building_only=True)
    assert post["building_only"] is True
    write_post(author, "全社区都能看")

    assert _texts(api(same_building, "get", POSTS)) == ["全社区都能看", "1号楼明天停电检修"]
    assert _texts(api(other_building, "get", POSTS)) == ["全社区都能看"]
    assert api(other_building, "get", f"{POSTS}/{post['id']}").status_code == 404
    assert api(same_building, "get", f"{POSTS}/{post['id']}").status_code == 200


def test_feed_by_topic(api, db, tree, neighbour, write_post):
    author = neighbour(tree.rooms_a["101"])
    write_post(author, "出一辆儿童自行车", topic="secondhand")
    write_post(author, "拼车去机场", topic="carpool")
    reader = neighbour(tree.rooms_a["102"])
    assert _texts(api(reader, "get", POSTS, query_string={"topic": "carpool"})) == ["拼车去机场"]
    assert api(reader, "get", POSTS, query_string={"topic": "politics"}).status_code == 422


def test_newest_cursor_is_stable_while_new_posts_arrive(api, db, tree, neighbour, write_post):
    author = neighbour(tree.rooms_a["101"])
    reader = neighbour(tree.rooms_a["102"])
    for n in range(5):
        write_post(author, f"旧帖{n}")
    first = api(reader, "get", POSTS, query_string={"limit": 2})
    assert _texts(first) == ["旧帖4", "旧帖3"]
    for n in range(3):
        write_post(author, f"新帖{n}")
    second = api(reader, "get", POSTS, query_string={"limit": 2, "cursor": first.json["next_cursor"]})
    third = api(reader, "get", POSTS, query_string={"limit": 2, "cursor": second.json["next_cursor"]})
    assert _texts(second) == ["旧帖2", "旧帖1"]
    assert _texts(third) == ["旧帖0"]
    assert third.json["next_cursor"] is None


def _age(post_id: str, hours: float) -> None:
    with atomic():
        database.session.execute(
            sa.update(Post).where(Post.public_id == post_id).values(created_at=sa.func.now() - timedelta(hours=hours))
        )


def test_hot_feed_cursor_is_stable_while_likes_change(api, db, tree, neighbour, write_post):
    author = neighbour(tree.rooms_a["101"])
    reader = neighbour(tree.rooms_a["102"])
    likers = [neighbour(tree.rooms_a["201"]) for _ in range(4)]
    posts = [write_post(author, f"帖{n}") for n in range(4)]
    for n, post in enumerate(posts):
        _age(post["id"], hours=n)  # 帖0 newest … 帖3 oldest; with no likes the newest ranks first
    first = api(reader, "get", POSTS, query_string={"sort": "hot", "limit": 2})
    assert _texts(first) == ["帖0", "帖1"]
    # Likes pour onto the oldest post: a fresh first page would put it on top, but the open cursor keeps its order.
    for liker in likers:
        assert api(liker, "post", f"{POSTS}/{posts[3]['id']}/like").status_code == 200
    second = api(reader, "get", POSTS, query_string={"sort": "hot", "limit": 2, "cursor": first.json["next_cursor"]})
    assert _texts(second) == ["帖2", "帖3"]
    assert second.json["items"][1]["like_count"] == 4  # the counts shown are live; the order is frozen
    assert second.json["next_cursor"] is None
    fresh = api(reader, "get", POSTS, query_string={"sort": "hot", "limit": 2})
    assert _texts(fresh)[0] == "帖3"


def test_an_expired_hot_snapshot_says_so(api, db, tree, neighbour, write_post):
    author = neighbour(tree.rooms_a["101"])
    for n in range(3):
        write_post(author, f"帖{n}")
    first = api(author, "get", POSTS, query_string={"sort": "hot", "limit": 1})
    with atomic():
        database.session.execute(sa.update(HotSnapshot).values(expires_at=sa.func.now() - timedelta(seconds=1)))
    again = api(author, "get", POSTS, query_string={"sort": "hot", "limit": 1, "cursor": first.json["next_cursor"]})
    assert again.status_code == 410
    assert again.json["code"] == "hot_snapshot_expired"
    # Another reader cannot use someone else's snapshot either.
    other = neighbour(tree.rooms_a["102"])
    fresh = api(author, "get", POSTS, query_string={"sort": "hot", "limit": 1})
    stolen = api(other, "get", POSTS, query_string={"sort": "hot", "limit": 1, "cursor": fresh.json["next_cursor"]})
    assert stolen.status_code == 410


def test_a_forged_cursor_is_a_422(api, db, tree, neighbour):
    reader = neighbour(tree.rooms_a["101"])
    for sort in ("newest", "hot"):
        response = api(reader, "get", POSTS, query_string={"sort": sort, "cursor": "bm90LWEtY3Vyc29y"})
        assert response.status_code == 422
        assert response.json["code"] == "validation_failed"


def test_likes_are_idempotent_and_counted(api, db, tree, neighbour, write_post):
    post = write_post(neighbour(tree.rooms_a["101"]))
    fan = neighbour(tree.rooms_a["102"])
    url = f"{POSTS}/{post['id']}/like"
    assert api(fan, "post", url).json == {"liked": True, "like_count": 1}
    assert api(fan, "post", url).json == {"liked": True, "like_count": 1}
    assert api(fan, "get", f"{POSTS}/{post['id']}").json["liked"] is True
    assert api(fan, "delete", url).json == {"liked": False, "like_count": 0}
    assert api(fan, "delete", url).json == {"liked": False, "like_count": 0}


def test_authors_delete_their_posts(api, db, tree, neighbour, write_post):
    author = neighbour(tree.rooms_a["101"])
    post = write_post(author)
    other = neighbour(tree.rooms_a["102"])
    # A neighbour sees the post, so they are refused (403), not told it does not exist; the same for a comment.
    refused = api(other, "delete", f"{POSTS}/{post['id']}")
    assert (refused.status_code, refused.json["code"]) == (403, "not_author")
    comment = api(author, "post", f"{POSTS}/{post['id']}/comments", json={"text": "补充"}).json
    refused = api(other, "delete", f"/api/v1/neighbours/comments/{comment['id']}")
    assert (refused.status_code, refused.json["code"]) == (403, "not_author")
    assert api(author, "delete", f"{POSTS}/{post['id']}").status_code == 204
    assert api(other, "get", f"{POSTS}/{post['id']}").status_code == 404
    assert _texts(api(other, "get", POSTS)) == []


@pytest.mark.parametrize("sort", ["newest", "hot"])
def test_feed_statements_do_not_grow_with_the_page(
    api, db, tree, neighbour, write_post, count_queries, auth_header, client, sort
):
    author = neighbour(tree.rooms_a["101"])
    reader = neighbour(tree.rooms_a["102"])
    for n in range(12):
        post = write_post(author, f"帖{n}")
        if n % 3 == 0:
            api(reader, "post", f"{POSTS}/{post['id']}/like")

    def statements(limit: int) -> int:
        headers = auth_header(reader)  # a fresh session each time: the same sign-in checks in both
        with count_queries() as queries:
            response = client.get(POSTS, query_string={"sort": sort, "limit": limit}, headers=headers)
        assert response.status_code == 200
        assert len(response.json["items"]) == limit
        return len(queries)

    assert statements(2) == statements(10)
