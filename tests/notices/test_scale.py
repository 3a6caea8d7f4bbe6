"""Publishing is set-based: the request costs the same number of statements for 50 residents as for 5,000, and
copies no audience (push's job does)."""

from __future__ import annotations

import sqlalchemy as sa

from app.extensions import db as database
from app.push.models import Delivery
from tests.push.population import populate


def test_publishing_to_5000_residents_takes_as_many_statements_as_to_50(
    tree, make_staff, api, draft, count_queries, run_jobs
):
    populate(5000, [h.id for h in tree.rooms_a.values()], prefix="big")
    populate(50, [h.id for h in tree.rooms_b.values()], prefix="small")
    street = make_staff(tree.street)
    big = draft(street, tree.street, audience={"communities": [tree.a.public_id]})
    small = draft(street, tree.street, audience={"communities": [tree.b.public_id]})

    counts = {}
    for name, notice in (("big", big), ("small", small)):
        with count_queries() as statements:
            response = api(street, "post", f"/api/v1/notices/{notice['id']}/publish", json={})
        assert response.status_code == 200, response.json
        counts[name] = len(statements)
        assert not [statement for statement in statements if "push_audience_chunks" in statement]
    assert counts["big"] == counts["small"]
    assert counts["big"] < 40

    def audiences() -> dict[str, int]:
        query = sa.select(Delivery.source_id, Delivery.audience_count).where(Delivery.source_kind == "notice")
        return dict(database.session.execute(query.execution_options(populate_existing=True)).all())

    assert audiences() == {big["id"]: 0, small["id"]: 0}  # counted by the job that copies the audience
    run_jobs()
    assert audiences() == {big["id"]: 5000, small["id"]: 50}
    stats = api(street, "get", f"/api/v1/notices/{big['id']}/stats").json
    reachable = sum(1 for g in range(1, 5001) if g % 3 == 0 or g % 5 == 0)
    assert (stats["audience"], stats["reached"], stats["unreachable"]) == (5000, reachable, 5000 - reachable)
