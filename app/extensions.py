"""Unbound extension instances; ``create_app`` binds each with ``init_app``."""

from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy

from app.db import Base
from app.ratelimit import limiter
from app.redis_client import redis_client

db = SQLAlchemy(model_class=Base, session_options={"expire_on_commit": False})
migrate = Migrate(compare_type=True)

__all__ = ["db", "limiter", "migrate", "redis_client"]
