"""Thin subclasses of flask-smorest and marshmallow: the one place framework behaviour is tuned."""

from __future__ import annotations

import base64
import binascii
import json
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import flask_smorest
import marshmallow as ma
from apispec import BasePlugin
from marshmallow import fields, validate
from webargs.flaskparser import FlaskParser
from werkzeug.exceptions import HTTPException

from app.errors import HTTP_MESSAGES, error_body

SHANGHAI = ZoneInfo("Asia/Shanghai")


class LocalDateTime(fields.DateTime):
    """Emits RFC 3339 in Asia/Shanghai (``+08:00``); reads any offset and stores UTC. Naive input is refused."""

    default_error_messages = {"naive": "时间必须带时区，例如 2026-11-23T09:00:00+08:00"}  # noqa: RUF012

    def _serialize(self, value: datetime | None, attr: Any, obj: Any, **kwargs: Any) -> str | None:
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value.astimezone(SHANGHAI).isoformat()

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> datetime:
        try:
            result = super()._deserialize(value, attr, data, **kwargs)
            if result.tzinfo is None:
                raise self.make_error("naive")
            return result.astimezone(UTC)
        except OverflowError:  # 0001-01-01T00:00:00+08:00 has no UTC form: a 422, not a 500
            raise self.make_error("invalid", input=value, obj_type=self.OBJ_TYPE) from None


class Schema(ma.Schema):
    """Base schema: unknown fields are an error, datetimes are shown in Asia/Shanghai."""

    TYPE_MAPPING = {**ma.Schema.TYPE_MAPPING, datetime: LocalDateTime}  # noqa: RUF012

    class Meta:
        unknown = ma.RAISE

    def on_bind_field(self, field_name: str, field_obj: ma.fields.Field) -> None:
        # A plain ``fields.DateTime()`` written in any schema still shows +08:00 and refuses naive input:
        # the rule "time is shown in Asia/Shanghai" must not depend on every author remembering a field class.
        if type(field_obj) is fields.DateTime:
            field_obj.__class__ = LocalDateTime
        super().on_bind_field(field_name, field_obj)


class ErrorSchema(Schema):
    code = fields.String(required=True, metadata={"description": "Stable English snake_case code"})
    message = fields.String(required=True, metadata={"description": "中文说明"})
    details = fields.Dict(metadata={"description": "Machine-readable context, e.g. fields for validation"})


class Api(flask_smorest.Api):
    ERROR_SCHEMA = ErrorSchema

    def __init__(self, app=None, **kwargs: Any) -> None:
        kwargs.setdefault("spec_kwargs", {}).setdefault("extra_plugins", [LinksPlugin()])
        super().__init__(app, **kwargs)

    def handle_http_exception(self, error: HTTPException):
        """Give 404/405/413/422 … the same body as APIError, keeping werkzeug's headers (Allow on 405)."""
        status = error.code or 500
        code, message = HTTP_MESSAGES.get(status, ("http_error", error.name))
        details: dict[str, Any] = {}
        data = getattr(error, "data", None) or {}
        if data.get("message"):
            message = data["message"]
        messages = data.get("errors") or data.get("messages")
        if messages:
            code = "validation_failed" if status == 422 else code
            details["fields"] = messages
        headers = dict(data.get("headers") or {})
        if status == 405 and getattr(error, "valid_methods", None):
            headers["Allow"] = ", ".join(error.valid_methods)
        response = error.get_response()
        for name in ("Allow", "Retry-After"):
            if name in response.headers and name not in headers:
                headers[name] = response.headers[name]
        return error_body(code, message, details), status, headers


class Parser(FlaskParser):
    """webargs' Flask parser, reusing one instance of each schema class a view names: webargs made a new one for
    each request (its fields and nested schemas copied anew: ~5 % of a placed order's CPU). The documentation keeps
    the class, as flask-smorest documents it. Our schemas keep nothing between loads (marshmallow 4 has no
    ``context``)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._instances: dict[type, ma.Schema] = {}

    def _get_schema(self, argmap, req) -> ma.Schema:
        if isinstance(argmap, type) and issubclass(argmap, ma.Schema):
            schema = self._instances.get(argmap)
            if schema is None:
                schema = self._instances.setdefault(argmap, argmap())
            return schema
        return super()._get_schema(argmap, req)


class Blueprint(flask_smorest.Blueprint):
    """Project blueprint; kept so behaviour can be tuned in one place."""

    ARGUMENTS_PARSER = Parser()


#: flask-smorest bounds ``page_size`` but not ``page``: a huge page overflows PostgreSQL's bigint OFFSET and
#: would answer 500 (found by schemathesis). Bound it where the schema is made, for every paginated view.
MAX_PAGE = 1_000_000
_smorest_page_schema_factory = flask_smorest.pagination._pagination_parameters_schema_factory


def _bounded_page_schema_factory(def_page: int, def_page_size: int, def_max_page_size: int):
    schema = _smorest_page_schema_factory(def_page, def_page_size, def_max_page_size)
    schema._declared_fields["page"].validators.append(validate.Range(max=MAX_PAGE))
    return schema


flask_smorest.pagination._pagination_parameters_schema_factory = _bounded_page_schema_factory


# --- cursor (keyset) pagination ------------------------------------------------------------------------------


class CursorArgsSchema(Schema):
    cursor = fields.String(load_default=None, metadata={"description": "上一页返回的 next_cursor"})
    limit = fields.Integer(load_default=20, validate=validate.Range(min=1, max=100))


def encode_cursor(values: list[Any]) -> str:
    def plain(value: Any) -> Any:
        if isinstance(value, datetime | date):
            return {"$dt": value.isoformat()}
        return value

    raw = json.dumps([plain(v) for v in values], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> list[Any]:
    from app.errors import ValidationFailed

    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        values = json.loads(base64.urlsafe_b64decode(padded.encode()))
        if not isinstance(values, list):
            raise ValueError("cursor must be a list")
        return [datetime.fromisoformat(v["$dt"]) if isinstance(v, dict) else v for v in values]
    except (ValueError, TypeError, KeyError, binascii.Error, UnicodeDecodeError):
        raise ValidationFailed("分页游标无效", details={"fields": {"query": {"cursor": ["无效的游标"]}}}) from None


def cursor_page_schema(item_schema: type[ma.Schema], name: str | None = None) -> type[ma.Schema]:
    """A page schema ``{"items": [...], "next_cursor": str | null}`` for one item schema."""
    return type(
        name or f"{item_schema.__name__.removesuffix('Schema')}PageSchema",
        (Schema,),
        {"items": fields.List(fields.Nested(item_schema)), "next_cursor": fields.String(allow_none=True)},
    )


def keyset_page(session, query, order_by: list, *, cursor: str | None, limit: int) -> dict[str, Any]:
    """Run ``query`` ordered by ``order_by`` (all descending, unique together) from ``cursor``; no COUNT(*).

    :return: ``{"items": [...], "next_cursor": str | None}``
    """
    import sqlalchemy as sa

    if cursor:
        values = decode_cursor(cursor)
        if len(values) != len(order_by):
            decode_cursor("!")  # raises the same validation error
        query = query.where(sa.tuple_(*order_by) < sa.tuple_(*[sa.literal(v) for v in values]))
    rows = session.scalars(query.order_by(*[column.desc() for column in order_by]).limit(limit + 1)).all()
    items, more = rows[:limit], len(rows) > limit
    next_cursor = None
    if more:
        last = items[-1]
        next_cursor = encode_cursor([getattr(last, column.key) for column in order_by])
    return {"items": items, "next_cursor": next_cursor}


def links(status: int, **targets: tuple[str, str, dict[str, str]]) -> dict[str, Any]:
    """OpenAPI links from an operation's ``status`` answer to the operations it leads to, for ``@blp.doc(**…)``.

    ``links(201, GetPost=("get", "/api/v1/neighbours/posts/{post_id}", {"post_id": "$response.body#/id"}))``: a
    client (and tests/fuzz/test_links.py) learns that the created post's ``id`` fills ``post_id`` there. They
    travel as ``x-links`` (flask-smorest would replace the whole response with a manual one) and ``LinksPlugin``
    moves them into the response when the path is added to the document.
    """

    def ref(method: str, path: str) -> str:
        return "#/paths/" + path.replace("~", "~0").replace("/", "~1") + "/" + method

    return {
        "x-links": {
            str(status): {
                name: {"operationRef": ref(method, path), "parameters": {f"path.{k}": v for k, v in params.items()}}
                for name, (method, path, params) in targets.items()
            }
        }
    }


class LinksPlugin(BasePlugin):
    """Move each operation's ``x-links`` (see ``links``) into the ``links`` of the responses they belong to."""

    def operation_helper(self, path=None, operations=None, **kwargs) -> None:
        for operation in (operations or {}).values():
            for status, found in operation.pop("x-links", {}).items():
                responses = operation.get("responses", {})
                response = responses.get(status, responses.get(int(status)))  # keys are ints until apispec cleans them
                if not isinstance(response, dict):
                    raise ValueError(f"links for {path}: the operation documents no {status} answer")
                response.setdefault("links", {}).update(found)
