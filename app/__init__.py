"""The application factory. Importing this package has no side effects; ``create_app`` does the wiring."""

from __future__ import annotations

import gc
import importlib
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import swagger_ui_bundle
from flask import Flask, send_from_directory
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.routing import IntegerConverter

from app.config import Config

#: Domain packages, each exposing ``blp``; registered in this order under /api/v1.
DOMAINS = ("govservice", "marketplace", "eldercare", "neighbours", "notices", "payments", "fees")
#: Core packages with routes.
CORE_BLUEPRINTS = (
    "app.health",
    "app.outbox_routes",
    "app.calendar_routes",
    "app.files.routes",
    "app.auth.routes",
    "payments.gateways.routes",  # WeChat Pay / Alipay callbacks and reconciliation
    "govservice.open311",  # Open311 GeoReport v2 over complaints, at /open311/v2
    "app.push.routes",
    "app.community.routes",
    "app.accounts.routes",
)

log = logging.getLogger(__name__)


class BigIntConverter(IntegerConverter):
    """``<int:id>`` bounded to PostgreSQL's bigint."""

    def __init__(self, map, *args, **kwargs) -> None:
        kwargs.setdefault("max", 2**63 - 1)
        super().__init__(map, *args, **kwargs)


def create_app(config: Mapping[str, Any] | None = None, *, extra_blueprints: tuple = ()) -> Flask:
    """Build the app. ``config`` overrides the environment (tests pass their database and Redis here).

    ``extra_blueprints`` are registered after the built-in ones (tests use it for probe endpoints).
    """
    settings = Config.from_env().updated(config)
    if settings.EMBEDDED and not settings.DATABASE_URL:
        from app import embedded

        started = embedded.ensure_started(Path(settings.INSTANCE_PATH))
        for key, value in started.items():
            if not getattr(settings, key, None):
                setattr(settings, key, value)
    settings.validate()

    app = Flask(__name__, instance_path=str(Path(settings.INSTANCE_PATH).resolve()))
    app.config.update(settings.flask_mapping())
    app.config.update(
        SQLALCHEMY_DATABASE_URI=settings.DATABASE_URL,
        SQLALCHEMY_ENGINE_OPTIONS={
            # No pool_pre_ping: a connection the server ended is found without a round trip (app.db).
            "pool_size": settings.DB_POOL_SIZE,
            "max_overflow": settings.DB_MAX_OVERFLOW,
            "pool_timeout": 10,
            "connect_args": {"connect_timeout": 5, "application_name": "linli"},
        },
        MAX_CONTENT_LENGTH=settings.MAX_UPLOAD_BYTES + 64 * 1024,
        API_TITLE="Linli 邻里 API",
        API_VERSION="v1",
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX="/",
        OPENAPI_JSON_PATH="openapi.json",
        OPENAPI_SWAGGER_UI_PATH="docs",
        # Served from our own host (swagger-ui-bundle) so /docs renders with no internet.
        OPENAPI_SWAGGER_UI_URL="/docs-assets/",
        API_SPEC_OPTIONS={
            "components": {"securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer"}}},
            "info": {"description": "邻里社区服务接口。错误统一为 {code, message, details}。"},
        },
    )
    app.json.ensure_ascii = False
    if settings.TRUSTED_PROXY_HOPS:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=settings.TRUSTED_PROXY_HOPS, x_proto=settings.TRUSTED_PROXY_HOPS)

    # A path id beyond bigint can name no row: let it 404 at routing instead of overflowing in PostgreSQL.
    app.url_map.converters["int"] = BigIntConverter
    _init_extensions(app)
    _register_blueprints(app)
    for blueprint in extra_blueprints:
        app.extensions["linli_api"].register_blueprint(blueprint)
    _register_cli(app)
    return app


def settle_for_serving() -> None:
    """Called once a serving process has built its app (``wsgi.py``): what start-up built (modules, mappers, the
    OpenAPI document: ~350,000 objects) lives as long as the process, so it leaves the garbage collector's
    generations (``gc.freeze``). A full collection walked all of it: ~200 ms, every request of the process paused
    meanwhile (measured: one such pause per ~6,600 catalogue and order requests)."""
    gc.collect()
    gc.freeze()


def _init_extensions(app: Flask) -> None:
    from app import outbox
    from app.api import Api
    from app.db import refuse_hung_up_connections
    from app.errors import register_error_handlers
    from app.extensions import db, migrate, redis_client
    from app.ratelimit import init_limiter

    _import_models()
    db.init_app(app)
    with app.app_context():
        for engine in db.engines.values():
            refuse_hung_up_connections(engine)
    migrate.init_app(app, db, directory=str(Path(__file__).resolve().parent.parent / "migrations"))
    redis_client.init_app(app)
    from app.auth.core import authenticate_before_parsing, forget_current_user

    # First of all before-request hooks: the limiter's hook (next) reads the signed-in account for its key, and
    # ``authenticate_before_parsing`` then reuses what it found instead of checking the token a second time.
    app.before_request(forget_current_user)
    init_limiter(app)
    # One Api per app: its spec belongs to the app it documents (tests build more than one app).
    app.extensions["linli_api"] = Api(app)
    register_error_handlers(app)
    outbox.init_app(app)

    app.before_request(authenticate_before_parsing)

    @app.teardown_appcontext
    def _reset_atomic_depth(_exc: BaseException | None) -> None:
        if db.session.registry.has():  # a request that used no session (a cached page) does not make one here
            db.session.info["atomic_depth"] = 0


#: Core modules that define models; imported so metadata (and so Alembic) sees every table.
CORE_MODEL_MODULES = (
    "app.accounts.models",
    "app.auth.models",
    "app.audit",
    "app.demo",
    "app.outbox",
    "app.idempotency",
    "app.files.models",
    "app.calendar",
    "app.community.models",
    "app.accounts.resident_models",
    "app.push.models",
)


def _import_models() -> None:
    for module_name in CORE_MODEL_MODULES:
        importlib.import_module(module_name)
    for name in DOMAINS:
        importlib.import_module(name)


def _register_blueprints(app: Flask) -> None:
    api = app.extensions["linli_api"]
    for module_name in CORE_BLUEPRINTS:
        module = importlib.import_module(module_name)
        api.register_blueprint(module.blp)
    for name in DOMAINS:
        module = importlib.import_module(name)
        api.register_blueprint(module.blp)

    @app.get("/docs-assets/<path:filename>")
    def docs_assets(filename: str):
        return send_from_directory(swagger_ui_bundle.swagger_ui_path, filename, max_age=86400)


def _register_cli(app: Flask) -> None:
    from app.cli import register

    register(app)
