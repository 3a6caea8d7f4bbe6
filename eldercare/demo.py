"""Demo data for home elderly care: the eligibility rules, the catalogue (six categories, 20 items), two approved
providers with payees, admins and caregivers, their offers in 幸福社区, a week of lunch menus, a care balance (助餐卡)
for 王丽's 82-year-old mother 王秀兰, and a lunch ordered for her on every working day.

In ``make run`` the daughter (+8619900000003) signs in with dev-login and finds her mother's recurring lunch at
``GET /api/v1/eldercare/series?elder_id=…``, the card at ``GET /api/v1/eldercare/balances?elder_id=…``, tomorrow's
menu with her mother's diet conflicts at ``GET /api/v1/eldercare/meals/menus?day=…&elder_id=…``, and tops the card
up through the sandbox payment. The provider admins sign in with +8619900000020 and +8619900000021.
"""

from __future__ import annotations

from datetime import date, time, timedelta

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert

from app.accounts.models import User
from app.accounts.resident_models import Delegation, HukouStatus, Resident
from app.accounts.residents import set_health_notes
from app.auth.models import RoleAssignment
from app.community.models import Region, RegionKind
from app.db import utcnow
from app.demo import seeder
from app.extensions import db
from eldercare.meal_models import (
    BalanceEntry,
    BalanceEntryKind,
    BalanceTopup,
    CareBalance,
    Dish,
    MealSettings,
    MenuEntry,
    Series,
    SeriesPattern,
    TopupStatus,
)
from eldercare.models import (
    CareCategory,
    CareItem,
    CareOffer,
    CareOfferCommunity,
    EligibilityRule,
    PlacedVia,
    Provider,
    ProviderCommunity,
    ProviderStatus,
)

C = CareCategory
#: name, category, description
ITEMS = (
    ("老年午餐送餐上门", C.meal, "营养午餐，一荤两素一汤，11:30 前送到家"),
    ("老年晚餐送餐上门", C.meal, "清淡晚餐，17:30 前送到家"),
    ("社区长者食堂堂食", C.meal, "到社区长者食堂就餐"),
    ("上门助浴", C.bath, "两名护理员携带助浴设备上门，约 60 分钟"),
    ("助浴点助浴", C.bath, "陪同到社区助浴点洗浴"),
    ("洗头理发", C.bath, "上门洗头、理发、修面"),
    ("陪同就医", C.medical, "陪同到医院挂号、候诊、取药"),
    ("上门测量血压血糖", C.medical, "护士上门测量并记录"),
    ("上门康复护理", C.medical, "康复师上门指导康复训练"),
    ("居室清洁", C.cleaning, "客厅、卧室、厨房、卫生间日常清洁"),
    ("衣物清洗", C.cleaning, "上门收取衣物，清洗晾晒后送回"),
    ("家电清洗", C.cleaning, "油烟机、空调、洗衣机清洗"),
    ("代购生活用品", C.errands, "按清单代购日用品、米面粮油"),
    ("代取药品", C.errands, "到医院或药店代取常用药"),
    ("代缴费用", C.errands, "代缴水电燃气等费用"),
    ("上门陪伴聊天", C.companionship, "陪伴聊天、读报，约 60 分钟"),
    ("陪同散步", C.companionship, "陪同户外散步、晒太阳"),
    ("喘息服务（日间照料）", C.companionship, "家属外出时在日间照料中心照护一天"),
    ("喘息服务（上门照护）", C.companionship, "家属外出时护理员上门照护半天"),
    ("节日探访", C.companionship, "传统节日上门探访慰问"),
)
#: provider name, admin phone, caregivers (name, phone, skills), offers (item name, price fen, minutes)
PROVIDERS = (
    (
        "幸福里居家养老服务中心（演示）",
        "+8619900000020",
        (("护理员 张秀梅（演示）", "+8619900000022", ("meal", "cleaning", "companionship", "errands")),),
        (
            ("老年午餐送餐上门", 1500, 30),
            ("老年晚餐送餐上门", 1200, 30),
            ("社区长者食堂堂食", 1000, 60),
            ("居室清洁", 6000, 120),
            ("衣物清洗", 3000, 60),
            ("代购生活用品", 1000, 60),
            ("代取药品", 1000, 90),
            ("上门陪伴聊天", 4000, 60),
            ("喘息服务（上门照护）", 12000, 240),
        ),
    ),
    (
        "康乐助浴护理站（演示）",
        "+8619900000021",
        (("护理员 刘建军（演示）", "+8619900000023", ("bath", "medical")),),
        (
            ("上门助浴", 8000, 60),
            ("洗头理发", 3000, 45),
            ("陪同就医", 10000, 240),
            ("上门测量血压血糖", 2000, 30),
            ("上门康复护理", 9000, 60),
        ),
    ),
)
#: name, diet tags, conflicts with
DISHES = (
    ("清蒸鲈鱼", ["low_salt", "soft_food"], ["seafood_allergy"]),
    ("番茄炒蛋", ["soft_food"], ["egg_allergy"]),
    ("红烧肉", [], ["low_salt", "diabetic"]),
    ("冬瓜排骨汤", ["low_salt", "diabetic_friendly"], []),
    ("南瓜小米粥", ["soft_food", "low_salt"], ["diabetic"]),
    ("清炒时蔬", ["low_salt", "diabetic_friendly"], []),
    ("肉末豆腐", ["soft_food", "low_salt", "diabetic_friendly"], []),
    ("宫保鸡丁", [], ["peanut_allergy", "low_salt"]),
)
ELDER_NOTES = "高血压，需低盐饮食；牙口不好，宜软食。"


def _add(obj):
    db.session.add(obj)
    db.session.flush()
    return obj


def _user(name: str, phone: str) -> User:
    user = db.session.scalar(sa.select(User).where(User.phone == phone))
    return user or _add(User(display_name=name, phone=phone, phone_verified_at=utcnow()))


def _rules(district: Region) -> None:
    if db.session.scalar(sa.select(EligibilityRule.id).where(EligibilityRule.name.like("%（演示）"))):
        return
    start = date(utcnow().year, 1, 1)
    for name, tag, copay, quota, priority in (
        ("高龄低保/特困（演示）", "dibao", 0, 20000, 10),
        ("高龄特困（演示）", "tekun", 0, 20000, 11),
        ("高龄低收入（演示）", "low_income", 1000, 15000, 20),
        ("高龄本地户籍（演示）", None, 3000, 10000, 100),
    ):
        _add(
            EligibilityRule(
                name=name,
                district_id=district.id,
                min_age=80,
                hukou=HukouStatus.local,
                tag_code=tag,
                copay_bps=copay,
                monthly_quota_fen=quota,
                valid_from=start,
                priority=priority,
            )
        )


def _items() -> dict[str, CareItem]:
    for name, category, description in ITEMS:
        db.session.execute(
            insert(CareItem)
            .values(name=name, category=category, description=description)
            .on_conflict_do_nothing(index_elements=["name"])
        )
    return {i.name: i for i in db.session.scalars(sa.select(CareItem).where(CareItem.name.in_([n for n, *_ in ITEMS])))}


def _provider(name, admin_phone, caregivers, offers, community, items, staff) -> tuple[Provider, dict[str, CareOffer]]:
    from eldercare.visit_models import Caregiver
    from payments.models import Payee, PayeeKind

    admin = _user(f"{name[:6]} 管理员（演示）", admin_phone)
    payee = _add(Payee(name=name, kind=PayeeKind.care_provider))
    provider = _add(
        Provider(
            name=name,
            licence_no="52110101MJDEMO" + admin_phone[-4:],
            contact_phone="010-6000" + admin_phone[-4:],
            payee_id=payee.id,
            status=ProviderStatus.approved,
            applicant_user_id=admin.id,
            decided_by_user_id=staff.id if staff else None,
            decided_at=utcnow(),
        )
    )
    _add(ProviderCommunity(provider_id=provider.id, community_id=community.id))
    _add(RoleAssignment(user_id=admin.id, role="provider_admin", scope_kind="provider", scope_id=provider.id))
    for caregiver_name, phone, skills in caregivers:
        caregiver = _user(caregiver_name, phone)
        _add(RoleAssignment(user_id=caregiver.id, role="caregiver", scope_kind="provider", scope_id=provider.id))
        _add(Caregiver(provider_id=provider.id, user_id=caregiver.id, skills=list(skills), updated_by_user_id=admin.id))
    made = {}
    for item_name, price, minutes in offers:
        offer = _add(
            CareOffer(provider_id=provider.id, item_id=items[item_name].id, price_fen=price, duration_minutes=minutes)
        )
        _add(CareOfferCommunity(offer_id=offer.id, community_id=community.id))
        made[item_name] = offer
    return provider, made


def _menus(provider: Provider, lunch: CareOffer, today: date) -> None:
    _add(MealSettings(provider_id=provider.id, cutoff=time(10, 0), serve_at=time(11, 30)))
    dishes = [
        _add(Dish(provider_id=provider.id, name=name, diet_tags=tags, conflicts_with=conflicts))
        for name, tags, conflicts in DISHES
    ]
    for offset in range(7):
        day = today + timedelta(days=offset)
        for n in range(4):  # four of the eight dishes, turning day by day
            dish = dishes[(offset * 3 + n) % len(dishes)]
            _add(MenuEntry(provider_id=provider.id, offer_id=lunch.id, day=day, dish_id=dish.id))


def _balance(elder: Resident, provider: Provider, daughter_user: User | None, admin_id: int) -> None:
    balance = _add(
        CareBalance(resident_id=elder.id, provider_id=provider.id, balance_fen=0, issued_by_user_id=admin_id)
    )
    if daughter_user is None:
        return
    topup = _add(
        BalanceTopup(
            balance_id=balance.id,
            amount_fen=30000,
            status=TopupStatus.paid,
            requested_by_user_id=daughter_user.id,
            expires_at=utcnow(),
            paid_at=utcnow(),
        )
    )
    balance.balance_fen = topup.amount_fen
    _add(
        BalanceEntry(
            balance_id=balance.id,
            kind=BalanceEntryKind.topup,
            amount_fen=topup.amount_fen,
            balance_after_fen=balance.balance_fen,
            topup_id=topup.id,
            idempotency_key=f"topup:{topup.public_id}",
        )
    )


@seeder("eldercare", order=90)
def seed_eldercare() -> None:
    from eldercare import meals, recurring

    community = db.session.scalar(
        sa.select(Region).where(Region.name == "幸福社区", Region.kind == RegionKind.community)
    )
    if community is None:
        return  # the identity seeder did not run (a test seeding only some domains)
    if db.session.scalar(sa.select(Provider.id).where(Provider.name == PROVIDERS[0][0])):
        return  # seeded already
    street = db.session.get(Region, community.parent_id)
    _rules(db.session.get(Region, street.parent_id))
    items = _items()
    staff = db.session.scalar(sa.select(User).where(User.phone == "+8619900000001"))
    made = [_provider(*spec, community, items, staff) for spec in PROVIDERS]
    (meal_provider, meal_offers), _bath = made

    elder = db.session.scalar(sa.select(Resident).where(Resident.real_name == "王秀兰"))
    daughter_user = db.session.scalar(sa.select(User).where(User.phone == "+8619900000003"))
    today = meals.shanghai_today()
    _menus(meal_provider, meal_offers["老年午餐送餐上门"], today)
    if elder is None or daughter_user is None:
        return
    if staff is not None:
        set_health_notes(staff, elder, ELDER_NOTES)  # the elder's sensitive-data consent is in the identity demo
    _balance(elder, meal_provider, daughter_user, meal_provider.applicant_user_id)
    delegated = db.session.scalar(sa.select(Delegation.id).where(Delegation.subject_resident_id == elder.id))
    if delegated is None:
        return
    series = _add(
        Series(
            resident_id=elder.id,
            provider_id=meal_provider.id,
            offer_id=meal_offers["老年午餐送餐上门"].id,
            pattern=SeriesPattern.workdays,
            time_of_day=time(11, 30),
            starts_on=today,
            pay_from_balance=True,
            notes="少盐，饭菜做软一些",
            placed_by_user_id=daughter_user.id,
            placed_via=PlacedVia.delegate,
        )
    )
    recurring.extend_series(series, today)
