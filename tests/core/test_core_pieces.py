"""Config parsing, audit masking, demo seeders, keyset pagination and URL handling."""

import pytest
import sqlalchemy as sa

from app import demo
from app.accounts.models import User
from app.api import keyset_page
from app.audit import AuditEntry, mask, record
from app.config import Config, ConfigError
from app.db import atomic
from app.errors import ValidationFailed
from app.extensions import db as database
from app.ratelimit import storage_uri

SECRETS = {"SECRET_KEY": "s", "FIELD_ENCRYPTION_KEYS": "k1:AAAA", "LOOKUP_HASH_KEY": "AAAA"}


@pytest.mark.parametrize(
    ("name", "value"),
    [("TRUSTED_PROXY_HOPS", "two"), ("TRUSTED_PROXY_HOPS", "-1"), ("DEMO_MODE", "maybe"), ("MAX_UPLOAD_BYTES", "0")],
)
def test_bad_settings_fail_loudly(name, value):
    with pytest.raises(ConfigError, match=name):
        Config.from_env({"DATABASE_URL": "postgresql+psycopg://db/linli", name: value})


def test_no_database_url_means_the_embedded_default_with_demo_mode():
    config = Config.from_env({})
    assert (config.EMBEDDED, config.DEMO_MODE) == (True, True)


def test_demo_mode_is_refused_against_a_real_database_unless_forced():
    env = {"DATABASE_URL": "postgresql+psycopg://db/linli", "REDIS_URL": "redis://r", "DEMO_MODE": "1", **SECRETS}
    with pytest.raises(ConfigError, match="DEMO_MODE"):
        Config.from_env(env).validate()
    Config.from_env({**env, "DEMO_MODE_FORCE": "1"}).validate()


def test_keys_are_never_defaulted_in_code():
    env = {"DATABASE_URL": "postgresql+psycopg://db/linli", "REDIS_URL": "redis://r", "SECRET_KEY": "s"}
    with pytest.raises(ConfigError, match="FIELD_ENCRYPTION_KEYS"):
        Config.from_env(env).validate()


def test_unix_socket_redis_urls_are_spelled_for_the_limiter():
    assert storage_uri("unix:///tmp/redis.socket") == "redis+unix:///tmp/redis.socket"
    assert storage_uri("redis://127.0.0.1:6379/1") == "redis://127.0.0.1:6379/1"


def test_audit_stores_masked_values(db, make_user):
    staff = make_user("工作人员")
    with atomic():
        record(
            "resident.update",
            actor=staff,
            target=("resident", "r1"),
            before={"phone": "13812345678", "real_name": "张三丰", "id_number": "110101199003070000"},
            after={"phone": "13900001111", "hukou": "本地户籍"},
            reason="居民来电更正",
        )
    entry = database.session.scalars(sa.select(AuditEntry).where(AuditEntry.action == "resident.update")).one()
    assert entry.before == {"phone": "138****5678", "real_name": "张**", "id_number": "110***********0000"}
    assert entry.after == {"phone": "139****1111", "hukou": "本地户籍"}
    assert entry.actor_user_id == staff.id
    assert "13812345678" not in str(entry.before)


def test_mask_leaves_other_values_alone():
    assert mask({"status": "done", "nested": {"mobile": "13812345678"}}) == {
        "status": "done",
        "nested": {"mobile": "138****5678"},
    }


@pytest.fixture
def counting_seeder():
    calls = []

    @demo.seeder("test_seeder", order=1)
    def seed():
        database.session.add(User(display_name="demo-seeded"))
        calls.append(1)

    yield calls
    demo._seeders.pop("test_seeder")


def test_a_demo_seeder_runs_once(db, counting_seeder):
    assert "test_seeder" in demo.seed_demo()
    assert "test_seeder" not in demo.seed_demo()
    assert counting_seeder == [1]
    assert database.session.scalar(sa.select(sa.func.count()).where(User.display_name == "demo-seeded")) == 1


def test_keyset_pages_walk_every_row_once(db):
    with atomic():
        database.session.add_all([User(display_name=f"page-{n}") for n in range(25)])
    query = sa.select(User).where(User.display_name.like("page-%"))
    order = [User.created_at, User.id]
    seen, cursor, pages = [], None, 0
    while True:
        page = keyset_page(database.session, query, order, cursor=cursor, limit=10)
        seen += [user.display_name for user in page["items"]]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert pages == 3
    assert sorted(seen) == sorted(f"page-{n}" for n in range(25))
    assert seen[0] == "page-24"  # newest first


def test_a_forged_cursor_is_a_validation_error(db):
    with pytest.raises(ValidationFailed):
        keyset_page(database.session, sa.select(User), [User.created_at, User.id], cursor="not-base64!!", limit=5)


def test_domain_settings_are_parsed_from_the_environment():
    config = Config.from_env({"MARKETPLACE_UNPAID_MINUTES": "30", "FEES_REMINDER_INTERVAL_DAYS": "3"})
    assert (config.MARKETPLACE_UNPAID_MINUTES, config.FEES_REMINDER_INTERVAL_DAYS) == (30, 3)
    with pytest.raises(ConfigError, match="PAYMENTS_DEFAULT_TTL_MINUTES"):
        Config.from_env({"PAYMENTS_DEFAULT_TTL_MINUTES": "0"})


def test_a_views_schema_is_made_once_and_each_request_still_gets_its_own_answer():
    """The parser keeps one instance of each argument schema (webargs made one per request), and requests sharing
    it from parallel threads each get their own data or their own 422 (marshmallow keeps no state between loads)."""
    import threading

    import marshmallow as ma
    from flask import Flask
    from flask.views import MethodView

    from app.api import Api, Blueprint, Schema

    class Line(Schema):
        sku = ma.fields.String(required=True)
        quantity = ma.fields.Integer(required=True, validate=ma.validate.Range(min=1))

    class Basket(Schema):
        owner = ma.fields.String(required=True)
        lines = ma.fields.List(ma.fields.Nested(Line), required=True)

    app = Flask("parser-test")
    app.config.update(API_TITLE="t", API_VERSION="1", OPENAPI_VERSION="3.0.3")
    api = Api(app)
    blp = Blueprint("baskets", __name__, url_prefix="/baskets")

    @blp.route("")
    class Baskets(MethodView):
        @blp.arguments(Basket)
        @blp.response(200)
        def post(self, data):
            return {"owner": data["owner"], "total": sum(line["quantity"] for line in data["lines"])}

    api.register_blueprint(blp)
    answers: dict[int, tuple[int, dict]] = {}

    def call(n: int) -> None:
        quantity = n if n % 3 else 0  # every third is refused
        body = {"owner": f"o{n}", "lines": [{"sku": "a", "quantity": quantity}, {"sku": "b", "quantity": 1}]}
        response = app.test_client().post("/baskets", json=body)
        answers[n] = (response.status_code, response.get_json())

    threads = [threading.Thread(target=call, args=(n,)) for n in range(1, 61)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for n, (status, body) in answers.items():
        if n % 3:
            assert (status, body) == (200, {"owner": f"o{n}", "total": n + 1})
        else:
            assert status == 422
            assert body["code"] == "validation_failed"
            assert body["details"]["fields"]["json"] == {
                "lines": {"0": {"quantity": ["Must be greater than or equal to 1."]}}
            }
    assert [type(schema) for schema in Blueprint.ARGUMENTS_PARSER._instances.values()].count(Basket) == 1
