"""Monthly subsidy claims per provider for the street office: the delivered visits of a subsidy month and the
amounts claimed, per elder, as JSON or CSV. Staff see the orders of their own communities only (a street's staff
every community of the street); a provider serving none of them is 404."""

from __future__ import annotations

import csv
import io
import logging
import re
from datetime import date
from typing import Any

import sqlalchemy as sa

from app import audit
from app.accounts.resident_models import Resident
from app.auth.scopes import community_ids_for, in_tenancy, register_action
from app.community.models import Region
from app.db import atomic
from app.errors import Forbidden
from app.extensions import db
from eldercare.errors import ProviderNotFound
from eldercare.models import CareOrder, CareOrderStatus, LedgerKind, SubsidyLedgerEntry
from eldercare.providers import get_provider
from eldercare.visits_errors import ClaimMonthInvalid

log = logging.getLogger(__name__)

register_action("eldercare.claims.read", ("admin", "staff"))

_MONTH = re.compile(r"(\d{4})-(\d{2})")

CSV_COLUMNS = (
    ("community", "社区"),
    ("elder_name", "老人姓名"),
    ("elder_id", "居民编号"),
    ("visits", "服务次数"),
    ("price", "服务金额（元）"),
    ("subsidy", "补贴申领（元）"),
    ("copay", "自付（元）"),
)


def parse_month(text: str) -> date:
    match = _MONTH.fullmatch(text or "")
    if not match or not 1 <= int(match.group(2)) <= 12 or int(match.group(1)) < 2000:
        raise ClaimMonthInvalid(details={"month": text})
    return date(int(match.group(1)), int(match.group(2)), 1)


def _cell(text: str) -> str:
    """A text cell Excel will not run as a formula (CSV injection): a leading = + - @ is quoted."""
    return f"'{text}" if text[:1] in ("=", "+", "-", "@") else text


def _yuan(fen: int) -> str:
    return f"{fen // 100}.{fen % 100:02d}"


def claim_report(user, provider_public_id: str, month_text: str) -> dict[str, Any]:
    """Delivered visits of ``month`` (the subsidy month, Asia/Shanghai) and amounts per elder, with totals.

    One grouped statement: the claimed subsidy is the sum of the visits' ``claim`` ledger rows.

    :raises Forbidden: the caller is no community staff anywhere, but the provider is in their tenancy (its own
        people, a grid worker of a community it serves).
    :raises ProviderNotFound: no such provider, or it lies outside the caller's tenancy (a resident, a vendor) or
        serves none of the caller's communities.
    """
    month = parse_month(month_text)
    with atomic():
        communities = community_ids_for(user, "eldercare.claims.read")
        provider = get_provider(provider_public_id)
        if communities is not None and not communities:
            if not in_tenancy(user, provider):
                raise ProviderNotFound()
            raise Forbidden("只有街道或社区工作人员可以查看补贴申领", details={"action": "eldercare.claims.read"})
        if communities is not None and not (provider.scope_community_ids() & communities):
            raise ProviderNotFound()
        claimed = sa.func.coalesce(sa.func.sum(SubsidyLedgerEntry.amount_fen), 0)
        query = (
            sa.select(
                Region.name.label("community"),
                Resident.public_id.label("elder_id"),
                Resident.real_name.label("elder_name"),
                sa.func.count(CareOrder.id).label("visits"),
                sa.func.sum(CareOrder.price_fen).label("price_fen"),
                claimed.label("subsidy_fen"),
                sa.func.sum(CareOrder.copay_fen).label("copay_fen"),
            )
            .join(Resident, Resident.id == CareOrder.resident_id)
            .join(Region, Region.id == CareOrder.community_id)
            .outerjoin(
                SubsidyLedgerEntry,
                sa.and_(SubsidyLedgerEntry.order_id == CareOrder.id, SubsidyLedgerEntry.kind == LedgerKind.claim),
            )
            .where(
                CareOrder.provider_id == provider.id,
                CareOrder.status == CareOrderStatus.delivered,
                CareOrder.subsidy_month == month,
            )
            .group_by(Region.id, Region.name, Resident.id, Resident.public_id, Resident.real_name)
            .order_by(Region.id, Resident.id)
        )
        if communities is not None:
            query = query.where(CareOrder.community_id.in_(communities))
        rows = [
            {
                "community": row.community,
                "elder_id": row.elder_id,
                "elder_name": row.elder_name,
                "visits": int(row.visits),
                "price_fen": int(row.price_fen),
                "subsidy_fen": int(row.subsidy_fen),
                "copay_fen": int(row.copay_fen),
            }
            for row in db.session.execute(query)
        ]
        totals = {
            "elders": len({row["elder_id"] for row in rows}),
            **{key: sum(row[key] for row in rows) for key in ("visits", "price_fen", "subsidy_fen", "copay_fen")},
        }
        return {
            "provider_id": provider.public_id,
            "provider_name": provider.name,
            "month": f"{month:%Y-%m}",
            "rows": rows,
            "totals": totals,
        }


def export_claims(user, provider_public_id: str, month_text: str) -> tuple[str, str]:
    """The claim report as CSV (UTF-8 with BOM for Excel, amounts in yuan, a totals row); the export is audited.

    :return: (filename, CSV text)
    """
    with atomic():
        report = claim_report(user, provider_public_id, month_text)
        out = io.StringIO()
        out.write("\ufeff")
        writer = csv.writer(out)
        writer.writerow([label for _key, label in CSV_COLUMNS])
        for row in report["rows"]:
            writer.writerow(
                [
                    _cell(row["community"]),
                    _cell(row["elder_name"]),
                    row["elder_id"],
                    row["visits"],
                    _yuan(row["price_fen"]),
                    _yuan(row["subsidy_fen"]),
                    _yuan(row["copay_fen"]),
                ]
            )
        totals = report["totals"]
        writer.writerow(
            [
                "合计",
                f"{totals['elders']}人",
                "",
                totals["visits"],
                _yuan(totals["price_fen"]),
                _yuan(totals["subsidy_fen"]),
                _yuan(totals["copay_fen"]),
            ]
        )
        audit.record(
            "eldercare.claims.export",
            actor=user,
            target=("provider", report["provider_id"]),
            after={"month": report["month"], "rows": len(report["rows"]), "subsidy_fen": totals["subsidy_fen"]},
        )
        log.info(
            "subsidy claims of provider %s for %s exported by user %s", report["provider_id"], report["month"], user.id
        )
        return f"subsidy-claims-{report['month']}.csv", out.getvalue()
