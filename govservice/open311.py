"""Open311 GeoReport v2 (JSON) over Linli's complaints, so existing civic clients (a 12345 hotline system, a
FixMyStreet-style app) can talk to Linli. A thin adapter: the complaint model and its rules stay in
``govservice.complaints``; this module only translates.

- ``jurisdiction_id`` is the community's 区划代码 (``Region.code``; its public id is accepted too).
- ``service_code`` is a complaint category's code.
- ``POST /requests.json`` needs an ``api_key`` issued to a client for a region (``/govservice/manage/open311-clients``);
  the caller's name, phone and e-mail are stored encrypted and never published.
- Public reads carry no personal data: no name, phone, e-mail, room or free-text location, and digits that look
  like a phone number are masked in descriptions.
- Errors are Open311's own: ``[{"code": 400, "description": "..."}]`` with the same HTTP status.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
from datetime import datetime, time, timedelta
from typing import Any

import sqlalchemy as sa
from flask import Response, request
from flask.views import MethodView
from marshmallow import EXCLUDE, ValidationError, fields, validate
from werkzeug.exceptions import HTTPException

from app import audit
from app.accounts import crypto
from app.api import SHANGHAI, Blueprint, Schema
from app.auth import require
from app.auth.scopes import authorize, community_ids_for
from app.community.models import Region, RegionKind
from app.community.scope import region_ancestors
from app.community.services import get_region
from app.db import atomic
from app.errors import APIError
from app.extensions import db
from govservice import complaints
from govservice.complaint_errors import Open311ClientNotFound
from govservice.complaint_models import CLOSED, Complaint, ComplaintCategory, ComplaintStatus, Open311Client

blp = Blueprint(
    "open311", __name__, url_prefix="/open311/v2", description="Open311 GeoReport v2：诉求的标准接口（JSON）"
)

MAX_REQUESTS = 200
DEFAULT_DAYS = 90
_PHONE_LIKE = re.compile(r"\d[\d\s-]{5,}\d")
CONTACT_PURPOSE = "govservice.open311.contact"


class Open311Error(Exception):
    def __init__(self, status: int, description: str) -> None:
        super().__init__(description)
        self.status, self.description = status, description


def _error_response(status: int, description: str) -> Response:
    body = json.dumps([{"code": status, "description": description}], ensure_ascii=False)
    return Response(body, status=status, mimetype="application/json")


@blp.errorhandler(Open311Error)
def _open311_error(error: Open311Error):
    return _error_response(error.status, error.description)


@blp.errorhandler(APIError)
def _api_error(error: APIError):
    return _error_response(error.status, error.message)


@blp.errorhandler(HTTPException)
def _http_error(error: HTTPException):
    return _error_response(error.code or 500, error.description or error.name)


# --- what the document says each operation answers (the views build their JSON themselves, in GeoReport's shape) -----


class Open311ErrorSchema(Schema):
    code = fields.Integer(required=True, metadata={"description": "the HTTP status again"})
    description = fields.String(required=True)


class Open311ServiceSchema(Schema):
    service_code = fields.String(required=True)
    service_name = fields.String(required=True)
    description = fields.String(allow_none=True)
    metadata = fields.Boolean(required=True)
    type = fields.String(required=True)
    keywords = fields.String(allow_none=True)
    group = fields.String(allow_none=True)


class Open311ServiceDefinitionSchema(Schema):
    service_code = fields.String(required=True)
    attributes = fields.List(fields.Dict(), required=True)


class Open311RequestViewSchema(Schema):
    service_request_id = fields.String(required=True)
    status = fields.String(required=True, metadata={"description": "open 或 closed"})
    status_notes = fields.String(allow_none=True)
    service_name = fields.String(allow_none=True)
    service_code = fields.String(allow_none=True)
    description = fields.String(allow_none=True)
    agency_responsible = fields.String(allow_none=True)
    service_notice = fields.String(allow_none=True)
    requested_datetime = fields.String(allow_none=True)
    updated_datetime = fields.String(allow_none=True)
    expected_datetime = fields.String(allow_none=True)
    address = fields.String(allow_none=True)
    address_id = fields.String(allow_none=True)
    zipcode = fields.String(allow_none=True)
    lat = fields.Float(allow_none=True)
    long = fields.Float(allow_none=True)
    media_url = fields.String(allow_none=True)


class Open311SubmittedSchema(Schema):
    service_request_id = fields.String(required=True)
    service_notice = fields.String(allow_none=True)
    account_id = fields.String(allow_none=True)


def _errors(view):
    """Document GeoReport's error list for 4xx and 5xx (flask-smorest keeps its own default for ``default``)."""
    for statuses in ("4XX", "5XX"):
        view = blp.alt_response(statuses, schema=Open311ErrorSchema(many=True), description="GeoReport v2 errors")(view)
    return view


def _answers(schema: type[Schema]):
    """Document a GeoReport answer (a JSON list of ``schema``) and its error lists."""

    def decorator(view):
        return _errors(blp.alt_response(200, schema=schema(many=True), description="GeoReport v2 JSON")(view))

    return decorator


def _json(payload: Any, status: int = 200) -> Response:
    return Response(json.dumps(payload, ensure_ascii=False), status=status, mimetype="application/json")


def _w3c(value: datetime | None) -> str | None:
    return value.astimezone(SHANGHAI).isoformat(timespec="seconds") if value else None


def _jurisdiction(value: str | None) -> Region:
    if not value:
        raise Open311Error(400, "jurisdiction_id 必填（社区区划代码）")
    community = db.session.scalar(
        sa.select(Region).where(
            sa.or_(Region.code == value, Region.public_id == value), Region.kind == RegionKind.community
        )
    )
    if community is None:
        raise Open311Error(404, "jurisdiction_id 对应的社区不存在")
    return community


def _service(category: ComplaintCategory) -> dict[str, Any]:
    return {
        "service_code": category.code,
        "service_name": category.name,
        "description": category.description,
        "metadata": False,
        "type": "realtime",
        "keywords": category.keywords,
        "group": category.group,
    }


def _public_description(text: str) -> str:
    return _PHONE_LIKE.sub(lambda match: "*" * len(match.group(0)), text)


def _request_view(complaint: Complaint, category: ComplaintCategory, agency: str | None) -> dict[str, Any]:
    status = "closed" if complaint.status in CLOSED else "open"
    notes = complaints.STATUS_LABELS[complaint.status]
    if complaint.status is ComplaintStatus.rejected:
        notes += f"：{complaint.reject_reason}"
    elif complaint.status in (ComplaintStatus.replied, ComplaintStatus.resolved) and complaint.reply:
        notes += f"：{_public_description(complaint.reply)}"
    expected = (
        datetime.combine(complaint.due_on, time(23, 59, 59), SHANGHAI)
        if complaint.due_on and status == "open"
        else None
    )
    return {
        "service_request_id": complaint.public_id,
        "status": status,
        "status_notes": notes,
        "service_name": category.name,
        "service_code": category.code,
        "description": _public_description(complaint.description),
        "agency_responsible": agency,
        "service_notice": None,
        "requested_datetime": _w3c(complaint.created_at),
        "updated_datetime": _w3c(complaint.updated_at),
        "expected_datetime": _w3c(expected),
        "address": None,
        "address_id": None,
        "zipcode": None,
        "lat": complaint.latitude,
        "long": complaint.longitude,
        "media_url": None,
    }


def _views(rows: list[Complaint]) -> list[dict[str, Any]]:
    from govservice.department_models import Department

    category_ids = {row.category_id for row in rows}
    department_ids = {row.department_id for row in rows if row.department_id}
    categories = {
        c.id: c for c in db.session.scalars(sa.select(ComplaintCategory).where(ComplaintCategory.id.in_(category_ids)))
    }
    departments = dict(
        db.session.execute(sa.select(Department.id, Department.name).where(Department.id.in_(department_ids))).all()
    )
    return [_request_view(row, categories[row.category_id], departments.get(row.department_id)) for row in rows]


# --- services ------------------------------------------------------------------------------------------------------


@blp.route("/services.json")
class Services(MethodView):
    @require(public=True)
    @_answers(Open311ServiceSchema)
    @blp.doc(parameters=[{"in": "query", "name": "jurisdiction_id", "required": True, "schema": {"type": "string"}}])
    def get(self):
        """Open311: the complaint categories (services) of a community"""
        community = _jurisdiction(request.args.get("jurisdiction_id"))
        return _json([_service(c) for c in complaints.categories_for_community(community)])


@blp.route("/services/<string:service_code>.json")
class ServiceDefinition(MethodView):
    @require(public=True)
    @blp.alt_response(200, schema=Open311ServiceDefinitionSchema, description="GeoReport v2 JSON")
    @_errors
    def get(self, service_code: str):
        """Open311: a service definition (Linli's categories take no extra attributes)"""
        community = _jurisdiction(request.args.get("jurisdiction_id"))
        codes = {c.code for c in complaints.categories_for_community(community)}
        if service_code not in codes:
            raise Open311Error(404, "service_code 不存在")
        return _json({"service_code": service_code, "attributes": []})


# --- requests ------------------------------------------------------------------------------------------------------


class Open311RequestSchema(Schema):
    class Meta:
        unknown = EXCLUDE

    api_key = fields.String(required=True)
    jurisdiction_id = fields.String(required=True)
    service_code = fields.String(required=True)
    lat = fields.Float(validate=validate.Range(-90, 90))
    long = fields.Float(validate=validate.Range(-180, 180))
    address_string = fields.String(validate=validate.Length(max=200))
    description = fields.String(required=True, validate=validate.Length(min=5, max=2000))
    email = fields.String(validate=validate.Length(max=200))
    first_name = fields.String(validate=validate.Length(max=64))
    last_name = fields.String(validate=validate.Length(max=64))
    phone = fields.String(validate=validate.Length(max=32))
    device_id = fields.String(validate=validate.Length(max=64))
    account_id = fields.String(validate=validate.Length(max=64))
    media_url = fields.String(validate=validate.Length(max=500))


def _client(api_key: str) -> Open311Client:
    digest = hashlib.sha256(api_key.encode()).digest()
    client = db.session.scalar(
        sa.select(Open311Client).where(Open311Client.key_hash == digest, Open311Client.revoked_at.is_(None))
    )
    if client is None:
        raise Open311Error(403, "api_key 无效")
    return client


@blp.route("/requests.json")
class Requests(MethodView):
    @require(public=True)
    @_answers(Open311SubmittedSchema)
    @blp.doc(
        description="Form-encoded (application/x-www-form-urlencoded) as GeoReport v2 specifies; needs `api_key`.",
        requestBody={
            "content": {
                "application/x-www-form-urlencoded": {"schema": Open311RequestSchema},
            }
        },
    )
    def post(self):
        """Open311: submit a request (complaint) for a community"""
        try:
            data = Open311RequestSchema().load(request.form.to_dict())
        except ValidationError as error:
            first = next(iter(error.messages))
            raise Open311Error(400, f"{first}: {error.messages[first]}") from error
        client = _client(data["api_key"])
        community = _jurisdiction(data["jurisdiction_id"])
        if client.region_id not in region_ancestors([community.id]):
            raise Open311Error(403, "该 api_key 不能向此社区提交")
        if data.get("lat") is None and not data.get("address_string"):
            raise Open311Error(400, "lat/long 或 address_string 至少提供一项")
        if (data.get("lat") is None) != (data.get("long") is None):
            raise Open311Error(400, "lat 与 long 须同时提供")
        try:
            category = complaints._category_in(community, data["service_code"])
        except APIError as error:
            raise Open311Error(404, "service_code 不存在") from error
        contact = {k: data[k] for k in ("first_name", "last_name", "phone", "email", "account_id") if data.get(k)}
        sealed = crypto.encrypt(json.dumps(contact, ensure_ascii=False), purpose=CONTACT_PURPOSE) if contact else None
        complaint = complaints.submit_from_open311(client, community, category, data, sealed)
        return _json(
            [
                {
                    "service_request_id": complaint.public_id,
                    "service_notice": "已收到，社区将尽快受理",
                    "account_id": None,
                }
            ]
        )

    @require(public=True)
    @_answers(Open311RequestViewSchema)
    @blp.doc(
        parameters=[
            {"in": "query", "name": name, "required": name == "jurisdiction_id", "schema": {"type": "string"}}
            for name in ("jurisdiction_id", "service_request_id", "service_code", "start_date", "end_date", "status")
        ]
    )
    def get(self):
        """Open311: requests of a community, newest first (no personal data)"""
        args = request.args
        community = _jurisdiction(args.get("jurisdiction_id"))
        query = sa.select(Complaint).where(Complaint.community_id == community.id)
        if args.get("service_request_id"):
            ids = [value.strip() for value in args["service_request_id"].split(",") if value.strip()][:MAX_REQUESTS]
            query = query.where(Complaint.public_id.in_(ids))
        else:
            end = _date_arg(args.get("end_date")) or complaints.clock.now()
            start = _date_arg(args.get("start_date")) or end - timedelta(days=DEFAULT_DAYS)
            query = query.where(Complaint.created_at >= start, Complaint.created_at <= end)
        if args.get("service_code"):
            codes = [value.strip() for value in args["service_code"].split(",")]
            query = query.join(ComplaintCategory, ComplaintCategory.id == Complaint.category_id).where(
                ComplaintCategory.code.in_(codes)
            )
        status = args.get("status")
        if status == "open":
            query = query.where(Complaint.status.not_in(CLOSED))
        elif status == "closed":
            query = query.where(Complaint.status.in_(CLOSED))
        elif status:
            raise Open311Error(400, "status 只能是 open 或 closed")
        rows = list(
            db.session.scalars(query.order_by(Complaint.created_at.desc(), Complaint.id.desc()).limit(MAX_REQUESTS))
        )
        return _json(_views(rows))


def _date_arg(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as error:
        raise Open311Error(400, "日期须为 W3C 格式，如 2026-12-01T00:00:00+08:00") from error
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=SHANGHAI)


@blp.route("/requests/<string:request_id>.json")
class RequestById(MethodView):
    @require(public=True)
    @_answers(Open311RequestViewSchema)
    def get(self, request_id: str):
        """Open311: one request (a one-element list, as GeoReport v2 answers)"""
        community = _jurisdiction(request.args.get("jurisdiction_id"))
        complaint = db.session.scalar(
            sa.select(Complaint).where(Complaint.public_id == request_id, Complaint.community_id == community.id)
        )
        if complaint is None:
            raise Open311Error(404, "service_request_id 不存在")
        return _json(_views([complaint]))


# --- clients (staff) -----------------------------------------------------------------------------------------------


def create_client(user, region_public_id: str, name: str) -> tuple[Open311Client, str]:
    """Issue an api key for a system posting into the region's communities; the key is returned once."""
    with atomic():
        region = get_region(region_public_id)
        authorize(user, complaints.MANAGE, region)
        key = secrets.token_urlsafe(32)
        client = Open311Client(
            region_id=region.id, name=name, key_hash=hashlib.sha256(key.encode()).digest(), created_by_user_id=user.id
        )
        db.session.add(client)
        db.session.flush()
        audit.record(
            "govservice.open311_client.create",
            actor=user,
            target=("open311_client", client.public_id),
            after={"name": name, "region": region.public_id},
        )
        return client, key


def list_clients(user) -> list[Open311Client]:
    communities = community_ids_for(user, complaints.MANAGE)
    query = sa.select(Open311Client).order_by(Open311Client.id)
    if communities is not None:
        query = query.where(Open311Client.region_id.in_(region_ancestors(communities) | set(communities)))
    # ``can`` reads the caller's roles and the region's ancestors: asked once per region, not once per client.
    allowed: dict[int, bool] = {}
    clients = []
    for client in db.session.scalars(query):
        if client.region_id not in allowed:
            allowed[client.region_id] = _may_manage(user, client)
        if allowed[client.region_id]:
            clients.append(client)
    return clients


def _may_manage(user, client: Open311Client) -> bool:
    from app.auth.scopes import can

    return can(user, complaints.MANAGE, client)


def revoke_client(user, public_id: str) -> Open311Client:
    with atomic():
        client = db.session.scalar(sa.select(Open311Client).where(Open311Client.public_id == public_id))
        if client is None:
            raise Open311ClientNotFound()
        authorize(user, complaints.MANAGE, client, not_found=Open311ClientNotFound)
        if client.revoked_at is None:
            client.revoked_at = complaints.clock.now()
            audit.record("govservice.open311_client.revoke", actor=user, target=("open311_client", client.public_id))
        return client
