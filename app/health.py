"""GET /healthz: each dependency's state; 503 only when the database is down (the API works without Redis)."""

from __future__ import annotations

import sqlalchemy as sa
from flask.views import MethodView
from marshmallow import fields

from app.api import Blueprint, Schema
from app.auth import require
from app.extensions import db, limiter, redis_client

blp = Blueprint("health", __name__, url_prefix="/healthz", description="健康检查")


class HealthSchema(Schema):
    status = fields.String(metadata={"description": "ok | degraded | down"})
    database = fields.String()
    redis = fields.String()


def check_health() -> tuple[dict[str, str], int]:
    try:
        db.session.execute(sa.text("SELECT 1"))
        database = "ok"
    except sa.exc.SQLAlchemyError:
        db.session.rollback()
        database = "down"
    redis_state = "ok" if redis_client.ping() else "down"
    if database == "down":
        return {"status": "down", "database": database, "redis": redis_state}, 503
    status = "ok" if redis_state == "ok" else "degraded"
    return {"status": status, "database": database, "redis": redis_state}, 200


@blp.route("")
class Health(MethodView):
    # Probes poll this; counting them in Redis would make a Redis outage cost health checks twice.
    decorators = (limiter.exempt,)

    @blp.response(200, HealthSchema)
    @blp.alt_response(503, schema=HealthSchema, description="The database is unreachable")
    @require(public=True)
    def get(self):
        """Service health"""
        body, status = check_health()
        return body, status
