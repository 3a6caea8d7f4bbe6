"""Ceiling endpoints for the benchmark only (never registered in the production app): what Flask, the ORM and
marshmallow cost on this machine with no auth, no scoping and no business rules.

- ``GET /bench/ok``: ``{"ok": true}``.
- ``GET /bench/read``: an ORM select of 20 products + a marshmallow dump.
- ``POST /bench/write``: ``UPDATE … SET stock = stock - 1 WHERE … AND stock > 0`` + one ORM INSERT, one commit.
"""

from __future__ import annotations

import random

import sqlalchemy as sa
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from app.extensions import db, limiter
from marketplace.models import Product

blp = Blueprint("bench", __name__, url_prefix="/bench", description="Benchmark ceilings (bench only)")

#: Rows in ``bench_items`` (the write ceiling spreads its updates over them, as orders spread over products).
ITEMS = 1000

SCHEMA_SQL = f"""
CREATE TABLE IF NOT EXISTS bench_items (id bigint PRIMARY KEY, stock integer NOT NULL CHECK (stock >= 0));
CREATE TABLE IF NOT EXISTS bench_rows (
    id bigserial PRIMARY KEY,
    item_id bigint NOT NULL REFERENCES bench_items (id),
    quantity integer NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO bench_items (id, stock) SELECT g, 1000000000 FROM generate_series(1, {ITEMS}) g ON CONFLICT DO NOTHING;
"""


class _Base(DeclarativeBase):
    """Outside the app's metadata: the bench tables never reach migrations."""


class BenchRow(_Base):
    __tablename__ = "bench_rows"
    id: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True)
    item_id: Mapped[int] = mapped_column(sa.BigInteger)
    quantity: Mapped[int]


class NaiveProductSchema(Schema):
    id = fields.String(attribute="public_id")
    name = fields.String()
    category = fields.String()
    description = fields.String(allow_none=True)
    price_fen = fields.Integer()
    original_price_fen = fields.Integer(allow_none=True)
    stock = fields.Integer()
    created_at = fields.DateTime()


_products = NaiveProductSchema(many=True)


@blp.route("/ok")
class Ok(MethodView):
    decorators = (limiter.exempt,)

    def get(self):
        return {"ok": True}


@blp.route("/read")
class NaiveRead(MethodView):
    decorators = (limiter.exempt,)

    def get(self):
        offset = random.randrange(0, 200)
        rows = db.session.scalars(sa.select(Product).order_by(Product.id).offset(offset).limit(20)).all()
        return {"items": _products.dump(rows)}


@blp.route("/write")
class NaiveWrite(MethodView):
    decorators = (limiter.exempt,)

    def post(self):
        item = random.randint(1, ITEMS)
        taken = db.session.execute(
            sa.text("UPDATE bench_items SET stock = stock - 1 WHERE id = :id AND stock > 0"), {"id": item}
        ).rowcount
        if taken:
            db.session.add(BenchRow(item_id=item, quantity=1))
        db.session.commit()
        return {"ok": bool(taken)}, 201
