"""Materials of online applications: what the guide asks for, where each comes from (the profile, an earlier
accepted submission, or a new private upload), the form prefilled from the profile, and the uploads a submission
names."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from app.accounts.profile import FACTS, ResidentProfile
from app.accounts.resident_models import Resident
from app.extensions import db
from app.files.errors import FileNotFound
from app.files.models import StoredFile
from app.files.services import attach
from govservice.application_models import (
    Application,
    ApplicationMaterial,
    MaterialFilePublic,
    MaterialSource,
    MaterialUnknown,
)
from govservice.models import GuideMaterial, GuideVersion

#: Files attached to an application belong to the material row that took them.
FILE_OWNER_KIND = "govservice_material"


def guide_materials(version: GuideVersion) -> list[GuideMaterial]:
    return list(
        db.session.scalars(
            sa.select(GuideMaterial).where(GuideMaterial.version_id == version.id).order_by(GuideMaterial.position)
        )
    )


def earlier_materials(resident_id: int, codes: list[str]) -> dict[str, list[ApplicationMaterial]]:
    """Per material code, the files of the resident's latest accepted application holding it (one query).

    Each returned row is the one that owns the file (a reused row is followed back to its source).
    """
    if not codes:
        return {}
    rows = db.session.execute(
        sa.select(ApplicationMaterial, Application.id)
        .join(Application, Application.id == ApplicationMaterial.application_id)
        .where(
            Application.resident_id == resident_id,
            Application.accepted_on.is_not(None),
            ApplicationMaterial.code.in_(codes),
            ApplicationMaterial.source.in_((MaterialSource.upload, MaterialSource.reused)),
        )
        .order_by(ApplicationMaterial.code, Application.id.desc(), ApplicationMaterial.id)
    ).all()
    latest: dict[str, int] = {}
    result: dict[str, list[ApplicationMaterial]] = {}
    for material, application_id in rows:
        if latest.setdefault(material.code, application_id) != application_id:
            continue
        result.setdefault(material.code, []).append(material)
    return result


def profile_supplies(material: GuideMaterial, profile: ResidentProfile) -> bool:
    fact = FACTS.get(material.profile_fact or "")
    return fact is not None and fact[1](profile)


def _profile_note(material: GuideMaterial, profile: ResidentProfile) -> str:
    if material.profile_fact == "document" and profile.document_label:
        return f"{profile.document_label} {profile.document_masked}"
    return f"{FACTS[material.profile_fact][0]}（已在个人资料中）"


def material_plan(version: GuideVersion, resident: Resident, profile: ResidentProfile) -> list[dict[str, Any]]:
    """Each material of the guide and where it would come from: ``profile``, ``reused`` or ``upload``."""
    materials = guide_materials(version)
    earlier = earlier_materials(resident.id, [m.code for m in materials if m.reusable])
    plan = []
    for material in materials:
        entry = {
            "code": material.code,
            "name": material.name,
            "form": material.form,
            "copies": material.copies,
            "required": material.required,
            "note": material.note,
            "supplied_by": "upload",
            "supplied_note": None,
        }
        if material.profile_fact and profile_supplies(material, profile):
            entry.update(supplied_by="profile", supplied_note=_profile_note(material, profile))
        elif material.reusable and material.code in earlier:
            rows = earlier[material.code]
            entry.update(supplied_by="reused", supplied_note=f"沿用此前已受理的申请材料（{len(rows)} 个文件）")
        plan.append(entry)
    return plan


def prefill(profile: ResidentProfile) -> dict[str, Any]:
    """Form fields from the profile (masked where personal)."""
    household = profile.households[0] if profile.households else None
    return {
        "resident_id": profile.public_id,
        "name": profile.real_name,
        "document_type": profile.document_label,
        "document": profile.document_masked,
        "gender": profile.gender.value if profile.gender else None,
        "birth_date": profile.birth_date.isoformat() if profile.birth_date else None,
        "phone": profile.phone_masked,
        "address": household["address"] if household else None,
        "verified": profile.verification_status.value == "verified",
    }


def named_uploads(
    user, materials: list[dict[str, Any]], known: dict[str, GuideMaterial]
) -> dict[str, list[StoredFile]]:
    """The caller's own unattached uploads named per material code (one query).

    :raises MaterialUnknown: a code the guide does not list. :raises FileNotFound: a file the caller did not upload.
    """
    unknown = sorted({m["code"] for m in materials} - set(known))
    if unknown:
        raise MaterialUnknown(details={"materials": unknown})
    wanted = {file_id for m in materials for file_id in m["file_ids"]}
    files = (
        {
            f.public_id: f
            for f in db.session.scalars(
                sa.select(StoredFile).where(StoredFile.public_id.in_(wanted), StoredFile.uploader_id == user.id)
            )
        }
        if wanted
        else {}
    )
    missing = sorted(wanted - set(files))
    if missing:
        raise FileNotFound(details={"file_ids": missing})
    public = sorted(public_id for public_id, stored in files.items() if stored.is_public)
    if public:
        raise MaterialFilePublic(details={"file_ids": public})
    result: dict[str, list[StoredFile]] = {}
    for m in materials:
        result.setdefault(m["code"], []).extend(files[file_id] for file_id in dict.fromkeys(m["file_ids"]))
    return result


def add_upload(user, application: Application, material: GuideMaterial, stored: StoredFile, round_: int) -> None:
    row = ApplicationMaterial(
        application_id=application.id,
        code=material.code,
        name=material.name,
        source=MaterialSource.upload,
        file_id=stored.id,
        round=round_,
    )
    db.session.add(row)
    db.session.flush()
    attach(stored.public_id, FILE_OWNER_KIND, row.id, by_user=user)
