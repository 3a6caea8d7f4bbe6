"""A value PostgreSQL refuses (NUL byte in text) is the caller's error: 422, nothing written."""

import sqlalchemy as sa
from flask.views import MethodView
from marshmallow import fields

from app.accounts.models import User
from app.api import Blueprint, Schema
from app.auth import require
from app.db import atomic
from app.extensions import db as database
from tests.conftest import extra_app

probe = Blueprint("data_probe", __name__, url_prefix="/api/v1/test-probe/data")


class NameSchema(Schema):
    name = fields.String(required=True)


@probe.route("")
class DataProbe(MethodView):
    @probe.arguments(NameSchema)
    @probe.response(201)
    @require(public=True)
    def post(self, data):
        """Store a name as given"""
        with atomic():
            database.session.add(User(display_name=data["name"][:64]))
        return {}


def test_a_nul_byte_is_422_and_nothing_is_written(database_url, redis_url, committed_db):
    with extra_app(database_url, redis_url, extra_blueprints=(probe,)) as app:
        users_before = database.session.scalar(sa.select(sa.func.count()).select_from(User))
        response = app.test_client().post("/api/v1/test-probe/data", json={"name": "张\x00三"})
        assert response.status_code == 422
        assert response.json["code"] == "validation_failed"
        assert database.session.scalar(sa.select(sa.func.count()).select_from(User)) == users_before
