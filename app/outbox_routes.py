"""Admin view of the job outbox: list failed and dead jobs, retry them."""

from __future__ import annotations

import logging

import sqlalchemy as sa
from flask.views import MethodView
from marshmallow import fields, validate

from app.api import Blueprint, Schema
from app.audit import record as audit
from app.auth import current_user, require
from app.db import atomic, utcnow
from app.errors import Conflict, NotFound
from app.extensions import db
from app.outbox import OutboxRow, OutboxStatus

log = logging.getLogger(__name__)
blp = Blueprint("admin_jobs", __name__, url_prefix="/api/v1/admin/jobs", description="后台任务（管理员）")

STATUS_FILTERS = ("failed", "dead", "pending", "enqueued", "done")


class JobSchema(Schema):
    id = fields.Integer()
    job = fields.String()
    args = fields.List(fields.Raw())
    queue = fields.String()
    status = fields.Enum(OutboxStatus, by_value=True)
    attempts = fields.Integer()
    last_error = fields.String(allow_none=True)
    run_at = fields.DateTime()
    created_at = fields.DateTime()
    enqueued_at = fields.DateTime(allow_none=True)
    done_at = fields.DateTime(allow_none=True)


class JobQueryArgsSchema(Schema):
    status = fields.String(
        load_default="failed",
        validate=validate.OneOf(STATUS_FILTERS),
        metadata={"description": "failed = pending again after an error; dead = attempts spent"},
    )


def _filter(status: str):
    if status == "failed":
        return sa.and_(OutboxRow.status == OutboxStatus.pending, OutboxRow.last_error.is_not(None))
    return OutboxRow.status == OutboxStatus(status)


@blp.route("")
class Jobs(MethodView):
    @blp.arguments(JobQueryArgsSchema, location="query")
    @blp.response(200, JobSchema(many=True))
    @blp.paginate()
    @require("admin")
    def get(self, args, pagination_parameters):
        """List background jobs by status (admins)"""
        where = _filter(args["status"])
        pagination_parameters.item_count = db.session.scalar(sa.select(sa.func.count()).where(where))
        return db.session.scalars(
            sa.select(OutboxRow)
            .where(where)
            .order_by(OutboxRow.id.desc())
            .offset(pagination_parameters.first_item)
            .limit(pagination_parameters.page_size)
        ).all()


@blp.route("/<int:job_id>/retry")
class JobRetry(MethodView):
    @blp.response(200, JobSchema)
    @require("admin")
    def post(self, job_id: int):
        """Retry a failed or dead job now, with a fresh set of attempts (admins)"""
        return retry_job(job_id, actor=current_user())


def retry_job(job_id: int, *, actor) -> OutboxRow:
    with atomic():
        row = db.session.get(OutboxRow, job_id, with_for_update=True)
        if row is None:
            raise NotFound("任务不存在")
        if row.status not in (OutboxStatus.dead, OutboxStatus.pending) or (
            row.status is OutboxStatus.pending and row.last_error is None
        ):
            raise Conflict("只有失败或已终止的任务可以重试", details={"status": row.status.value})
        # The error moves to the audit entry: the row is a fresh start, and no longer listed as failed.
        before = {"status": row.status.value, "attempts": row.attempts, "last_error": row.last_error}
        row.status, row.attempts, row.run_at, row.last_error = OutboxStatus.pending, 0, utcnow(), None
        audit(
            "outbox.retry",
            actor=actor,
            target=("outbox", row.id),
            before=before,
            after={"status": "pending", "attempts": 0},
        )
        log.info("outbox row %s retried by user %s", row.id, actor.id)
        return row
