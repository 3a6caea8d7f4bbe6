"""Use cases of online applications (办件) on the resident's side: the prefilled form, submitting (for oneself or
through an ``applications`` delegation), withdrawing, supplying 补正 materials, reading, and rating (好差评).

Materials: each required material of the guide is supplied by a new private upload, by the resident's profile when
the guide names a profile fact that holds (身份证 is collected once), or by reference to the file of an earlier
accepted application of the same resident with the same material code when the guide marks it reusable. Reused files
are referenced, never copied: they stay owned by the material row that first took them.
"""

from __future__ import annotations

import logging
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert

from app.accounts.delegation import delegate_or_refuse
from app.accounts.errors import StaffReasonRequired as AccountsStaffReasonRequired
from app.accounts.profile import profile_of
from app.accounts.resident_models import Delegation, DelegationStatus, Resident
from app.accounts.residents import require_resident, resident_for_user
from app.api import keyset_page
from app.auth.scopes import acting_for, can
from app.db import atomic
from app.errors import Forbidden
from app.extensions import db
from app.files.services import register_owner_kind
from govservice import applications_deadline as deadline
from govservice import applications_materials as materials_mod
from govservice import clock, guides
from govservice.application_models import (
    AlreadyRated,
    Application,
    ApplicationMaterial,
    ApplicationNotFound,
    ApplicationRating,
    ApplicationStatus,
    MaterialsMissing,
    MaterialSource,
    NotOnline,
    NotRateable,
    Via,
)
from govservice.applications_flow import check_from, get_application, lock_application, transition
from govservice.models import Centre, GuideItem, GuideVersion
from govservice.permissions import APPLICATION_READ

log = logging.getLogger(__name__)

SCOPE = "applications"


# --- who -----------------------------------------------------------------------------------------------------------


def applicant(user, for_resident_id: str | None) -> tuple[Resident, Via]:
    """The resident an application is for: the caller, or one they hold an ``applications`` delegation from.

    :raises ResidentNotFound: (404) / :raises DelegationDenied: (403) see ``acting_for``.
    """
    if for_resident_id is None:
        return require_resident(user), Via.own
    try:
        resident = acting_for(user, for_resident_id, SCOPE)
    except AccountsStaffReasonRequired:
        # Staff over the resident without a delegation: online applications are the resident's own act.
        raise Forbidden("工作人员不能代居民网上申办，请在窗口受理", details={"action": SCOPE}) from None
    return resident, (Via.own if resident.user_id == user.id else Via.delegate)


def may_act(user, application: Application) -> bool:
    """Whether ``user`` is the applicant, or holds an ``applications`` delegation from them (not audited: a read)."""
    subject_user = db.session.scalar(sa.select(Resident.user_id).where(Resident.id == application.resident_id))
    if subject_user == user.id:
        return True
    actor = resident_for_user(user)
    if actor is None:
        return False
    now = clock.now()
    return bool(
        db.session.scalar(
            sa.select(sa.literal(True)).where(
                Delegation.actor_resident_id == actor.id,
                Delegation.subject_resident_id == application.resident_id,
                Delegation.status == DelegationStatus.active,
                Delegation.scopes.contains([SCOPE]),
                sa.or_(Delegation.expires_at.is_(None), Delegation.expires_at > now),
            )
        )
    )


def act_on(user, public_id: str, *, lock: bool = True) -> tuple[Application, Resident]:
    """The application, for its resident or a delegate (through ``acting_for``, which records it); 404 otherwise,
    but 403 ``delegation_denied`` for a family member bound to the applicant without the ``applications`` scope."""
    application = lock_application(public_id) if lock else get_application(public_id)
    resident = delegate_or_refuse(user, SCOPE, resident_id=application.resident_id, not_found=ApplicationNotFound)
    return application, resident


# --- the form ------------------------------------------------------------------------------------------------------


def online_item(item_public_id: str) -> tuple[GuideItem, GuideVersion, Centre]:
    """A published item residents may apply for online.

    :raises GuideNotFound: / :raises NotPublished: / :raises NotOnline:
    """
    item = guides.get_item(item_public_id)
    version = guides.published_version(item)
    if not version.online:
        raise NotOnline()
    return item, version, db.session.get(Centre, item.centre_id)


def application_form(user, item_public_id: str, for_resident_id: str | None) -> dict[str, Any]:
    """The form of an online-able item, prefilled from the applicant's profile, with the materials plan."""
    with atomic():  # acting_for records the delegate's read in the audit log
        item, version, centre = online_item(item_public_id)
        resident, via = applicant(user, for_resident_id)
        profile = profile_of(resident)
        return {
            "item": {"id": item.public_id, "code": item.code, "name": version.name},
            "centre": {"id": centre.public_id, "name": centre.name},
            "promised_days": version.promised_days,
            "via": via,
            "applicant": materials_mod.prefill(profile),
            "materials": materials_mod.material_plan(version, resident, profile),
        }


# --- submitting ----------------------------------------------------------------------------------------------------


def submit(
    user, *, item_id: str, for_resident_id: str | None, form: dict[str, Any], materials: list[dict[str, Any]]
) -> Application:
    """Apply for an online-able item (status 待预审), for oneself or through an ``applications`` delegation.

    :raises NotOnline: (409) / :raises MaterialsMissing: (422, ``details.materials``) / :raises MaterialUnknown:
        (422) / :raises FileNotFound: (404) / :raises FileAlreadyAttached: (409) a file belongs to another record.
    """
    with atomic():
        item, version, centre = online_item(item_id)
        resident, via = applicant(user, for_resident_id)
        profile = profile_of(resident)
        guide_materials = materials_mod.guide_materials(version)
        known = {m.code: m for m in guide_materials}
        uploads = materials_mod.named_uploads(user, materials, known)
        earlier = materials_mod.earlier_materials(resident.id, [m.code for m in guide_materials if m.reusable])
        missing = [
            {"code": m.code, "name": m.name}
            for m in guide_materials
            if m.required
            and not uploads.get(m.code)
            and not (m.profile_fact and materials_mod.profile_supplies(m, profile))
            and not (m.reusable and m.code in earlier)
        ]
        if missing:
            raise MaterialsMissing(details={"materials": missing})
        now = clock.now()
        application = Application(
            centre_id=centre.id,
            region_id=centre.region_id,
            item_id=item.id,
            version_id=version.id,
            resident_id=resident.id,
            submitted_by_user_id=user.id,
            via=via,
            status=ApplicationStatus.pending_review,
            form={**materials_mod.prefill(profile), **form},
            promised_days=version.promised_days,
            submitted_at=now,
        )
        db.session.add(application)
        db.session.flush()
        for material in guide_materials:
            files = uploads.get(material.code)
            if files:
                for stored in files:
                    materials_mod.add_upload(user, application, material, stored, 0)
            elif material.profile_fact and materials_mod.profile_supplies(material, profile):
                db.session.add(
                    ApplicationMaterial(
                        application_id=application.id,
                        code=material.code,
                        name=material.name,
                        source=MaterialSource.profile,
                        profile_fact=material.profile_fact,
                    )
                )
            elif material.reusable and material.code in earlier:
                for source in earlier[material.code]:
                    db.session.add(
                        ApplicationMaterial(
                            application_id=application.id,
                            code=material.code,
                            name=material.name,
                            source=MaterialSource.reused,
                            file_id=source.file_id,
                            reused_from_id=source.reused_from_id or source.id,
                        )
                    )
        db.session.flush()
        application.status = None  # the event records "from nothing"
        transition(
            application, ApplicationStatus.pending_review, action="submit", actor=user, details={"via": via.value}
        )
        return application


def withdraw(user, public_id: str, *, reason: str | None) -> Application:
    """The resident (or their delegate) withdraws an application still 待预审 (撤回)."""
    with atomic():
        application, _resident = act_on(user, public_id)
        transition(
            application,
            ApplicationStatus.withdrawn,
            action="withdraw",
            actor=user,
            allowed_from=(ApplicationStatus.pending_review,),
            reason=reason or "申请人撤回",
            values={"ended_at": clock.now()},
        )
        return application


def supply_correction(user, public_id: str, *, materials: list[dict[str, Any]], note: str | None) -> Application:
    """Upload the materials a 补正 asked for; the application is 受理 again and its clock runs on.

    :raises MaterialsMissing: (422) a material asked for is not in the upload.
    """
    with atomic():
        application, _resident = act_on(user, public_id)
        check_from(application, "supply_correction", (ApplicationStatus.correction,))
        version = db.session.get(GuideVersion, application.version_id)
        known = {m.code: m for m in materials_mod.guide_materials(version)}
        uploads = materials_mod.named_uploads(user, materials, known)
        asked = [m for m in application.correction_materials if m["code"] in known]
        missing = [m for m in asked if not uploads.get(m["code"])]
        if missing:
            raise MaterialsMissing("补正材料不全", details={"materials": missing})
        round_ = (
            db.session.scalar(
                sa.select(sa.func.max(ApplicationMaterial.round)).where(
                    ApplicationMaterial.application_id == application.id
                )
            )
            or 0
        ) + 1
        for code, files in uploads.items():
            for stored in files:
                materials_mod.add_upload(user, application, known[code], stored, round_)
        with db.session.no_autoflush:
            paused = deadline.resume(application, clock.today())
            transition(
                application,
                ApplicationStatus.accepted,
                action="supply_correction",
                actor=user,
                reason=note,
                details={"paused_workdays": paused, "materials": sorted(uploads)},
            )
        return application


def rate(user, public_id: str, *, score: int, comment: str) -> ApplicationRating:
    """Rate a finished application (好差评), once: 1 非常不满意 … 5 非常满意.

    :raises NotRateable: (409) not 办结 yet. :raises AlreadyRated: (409).
    """
    with atomic():
        application, _resident = act_on(user, public_id)
        if application.status is not ApplicationStatus.completed:
            raise NotRateable(details={"status": application.status.value})
        inserted = db.session.scalar(
            pg_insert(ApplicationRating)
            .values(application_id=application.id, score=score, comment=comment, rated_by_user_id=user.id)
            .on_conflict_do_nothing()
            .returning(ApplicationRating)
        )
        if inserted is None:
            raise AlreadyRated()
        transition(application, None, action="rate", actor=user, details={"score": score}, tell=False)
        return inserted


# --- reading -------------------------------------------------------------------------------------------------------


def read(user, public_id: str) -> tuple[Application, bool]:
    """The application and whether the caller sees it as staff (full names, internal notes).

    The applicant and their delegates read it; so do centre staff and the handlers of a department it went to;
    anyone else gets 404.
    """
    application = get_application(public_id)
    if can(user, APPLICATION_READ, application):
        return application, True
    if may_act(user, application):
        return application, False
    act_on(user, public_id, lock=False)  # raises 403 for a delegate without the scope, else 404
    raise ApplicationNotFound()


def my_applications(user, *, status: ApplicationStatus | None, cursor: str | None, limit: int) -> dict[str, Any]:
    """Applications for me and those I submitted for others, newest first (cursor pages)."""
    mine = sa.select(Resident.id).where(Resident.user_id == user.id).scalar_subquery()
    query = sa.select(Application).where(
        sa.or_(Application.resident_id == mine, Application.submitted_by_user_id == user.id)
    )
    if status is not None:
        query = query.where(Application.status == status)
    return keyset_page(db.session, query, [Application.submitted_at, Application.public_id], cursor=cursor, limit=limit)


# --- files ---------------------------------------------------------------------------------------------------------


def _can_read_material_file(user, material_id: int) -> bool:
    """A material's file: whoever may read an application holding it (the first one or one that reused it)."""
    ids = db.session.scalars(
        sa.select(ApplicationMaterial.application_id).where(
            sa.or_(ApplicationMaterial.id == material_id, ApplicationMaterial.reused_from_id == material_id)
        )
    ).all()
    for application in db.session.scalars(sa.select(Application).where(Application.id.in_(set(ids)))):
        if can(user, APPLICATION_READ, application) or may_act(user, application):
            return True
    return False


register_owner_kind(materials_mod.FILE_OWNER_KIND, _can_read_material_file)
