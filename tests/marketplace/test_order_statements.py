"""Placing an order costs a fixed number of statements plus one conditional UPDATE per product, and the answer is
built from what the placement wrote (no second read of the order, its lines or its steps)."""

from tests.marketplace.fixtures import M


def test_placing_an_order_takes_seven_statements_and_one_more_per_product(
    market, api, auth_header, client, count_queries
):
    headers = auth_header(market.user)
    client.get(f"{M}/orders", headers=headers)  # the session's revocation state is known from here on
    counts = {}
    for lines in ([(market.cabbage, 1)], [(market.cabbage, 1), (market.pork, 1)]):
        body = {
            "vendor_id": market.vendor.public_id,
            "lines": [{"product_id": p.public_id, "quantity": q} for p, q in lines],
        }
        with count_queries() as statements:
            placed = client.post(f"{M}/orders", json=body, headers=headers)
        assert placed.status_code == 201, placed.json
        counts[len(lines)] = [s for s in statements if not s.lstrip().upper().startswith(("SAVEPOINT", "RELEASE"))]
        assert sorted(line["name"] for line in placed.json["lines"]) == sorted(p.name for p, _q in lines)
        assert [step["to_status"] for step in placed.json["steps"]] == ["pending_payment"]
        assert placed.json["adjustments"] == []
        assert placed.json["vendor"] == {"id": market.vendor.public_id, "name": market.vendor.name}
        assert placed.json["created_at"].endswith("+08:00")
    # The buyer with the vendor; the stock; the order; its lines; its first step; the resident's message, delivered
    # to their inbox in the same statement (no job); the expiry job (due later: no NOTIFY).
    assert len(counts[1]) == 7, counts[1]
    assert len(counts[2]) == 8
    # Nothing is read back after the order is written.
    written = next(i for i, s in enumerate(counts[1]) if "INSERT INTO marketplace_orders" in s)
    assert not [s for s in counts[1][written:] if s.lstrip().upper().startswith("SELECT") and "pg_notify" not in s]
