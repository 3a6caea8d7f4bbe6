"""Demo data for govservice: 幸福社区党群服务中心 with the 8 categories a community centre handles (社会保障 13,
劳动保障 25, 医疗保险 18, 计划生育 16, 非正规劳动组织 15, 社会救助 16, 社保卡 8, 工会医疗 4 items in real life; a few
representative published items each here), three windows with working-day, evening and Saturday sessions."""

from __future__ import annotations

from datetime import time

import sqlalchemy as sa

from app.community.models import Region, RegionKind
from app.db import utcnow
from app.demo import seeder
from app.extensions import db
from govservice.models import (
    Category,
    Centre,
    GuideItem,
    GuideMaterial,
    GuideVersion,
    ItemKind,
    MaterialForm,
    Session,
    VersionStatus,
    Window,
    WindowItem,
)
from govservice.search import search_key

CENTRE_NAME = "幸福社区党群服务中心"
PHONE, SUPERVISION = "010-6500 1234", "12345"
HOURS = "工作日 9:00–12:00，13:30–17:00；周二、周四延时至 20:00；周六 9:00–12:00"

ID_CARD = {"code": "id_card", "name": "居民身份证", "form": MaterialForm.original, "profile_fact": "document"}
HUKOU = {"code": "hukou_book", "name": "户口簿", "form": MaterialForm.original_and_copy, "reusable": True}
PHOTO = {"code": "photo", "name": "近期一寸免冠彩色照片", "form": MaterialForm.original, "copies": 2}
BANK = {"code": "bank_card", "name": "本人银行卡或存折", "form": MaterialForm.copy, "reusable": True}
APPLY = {"code": "application_form", "name": "申请表", "form": MaterialForm.original, "note": "窗口领取或在线填写"}
INCOME = {"code": "income_proof", "name": "家庭收入及财产情况说明", "form": MaterialForm.original, "reusable": True}
MARRIAGE = {"code": "marriage_cert", "name": "结婚证", "form": MaterialForm.original_and_copy, "reusable": True}
LABOUR = {"code": "labour_contract", "name": "劳动合同或用工证明", "form": MaterialForm.copy}
INVOICE = {"code": "medical_invoice", "name": "医疗费用票据及费用明细", "form": MaterialForm.original}
DIAGNOSIS = {"code": "diagnosis", "name": "诊断证明或病历", "form": MaterialForm.copy}
CARD = {"code": "sscard", "name": "社会保障卡", "form": MaterialForm.original, "reusable": True}
ORG_LICENSE = {
    "code": "org_certificate",
    "name": "非正规就业劳动组织认定证明",
    "form": MaterialForm.original_and_copy,
    "reusable": True,
}
MEMBERS = {"code": "staff_list", "name": "从业人员名册", "form": MaterialForm.original}
UNION = {"code": "union_card", "name": "工会会员证明", "form": MaterialForm.copy, "reusable": True}

SOCIAL_INSURANCE_LAW = "《中华人民共和国社会保险法》"

#: (category, code prefix, department, items: (name, kind, promised days, statutory days, visits, online, bookable,
#: keywords, materials)).
CATALOGUE = [
    (
        "社会保障",
        "SB",
        "区人力资源和社会保障局",
        [
            (
                "城乡居民基本养老保险参保登记",
                "immediate",
                0,
                None,
                1,
                True,
                True,
                "养老保险,居民养老",
                [ID_CARD, HUKOU],
            ),
            (
                "城乡居民基本养老保险待遇申领",
                "promised",
                10,
                20,
                1,
                True,
                True,
                "领养老金,退休",
                [ID_CARD, HUKOU, BANK],
            ),
            ("养老保险关系转移接续申请", "promised", 15, 45, 1, True, True, "转移,接续", [ID_CARD, APPLY]),
            ("个人权益记录查询打印", "immediate", 0, None, 0, True, False, "参保证明,缴费记录", [ID_CARD]),
            ("领取养老金人员资格认证", "immediate", 0, None, 0, True, False, "生存认证,年审", [ID_CARD]),
        ],
    ),
    (
        "劳动保障",
        "LB",
        "区人力资源和社会保障局",
        [
            ("就业创业证申领", "immediate", 0, None, 1, True, True, "就业证,失业证", [ID_CARD, PHOTO]),
            ("失业登记", "immediate", 0, None, 1, True, True, "失业", [ID_CARD, LABOUR]),
            (
                "灵活就业人员社会保险补贴申领",
                "promised",
                20,
                30,
                1,
                True,
                True,
                "灵活就业,社保补贴",
                [ID_CARD, BANK, APPLY],
            ),
            ("就业困难人员认定", "promised", 10, 20, 1, False, True, "就业困难", [ID_CARD, HUKOU, APPLY]),
            ("职业技能培训补贴申领", "promised", 20, 30, 1, True, True, "培训补贴,技能", [ID_CARD, BANK]),
        ],
    ),
    (
        "医疗保险",
        "YB",
        "区医疗保障局",
        [
            (
                "城乡居民基本医疗保险参保登记",
                "immediate",
                0,
                None,
                1,
                True,
                True,
                "医保,居民医保,一老一小",
                [ID_CARD, HUKOU],
            ),
            ("异地就医备案", "immediate", 0, None, 0, True, False, "异地,备案", [ID_CARD, CARD]),
            ("门诊慢特病待遇认定", "promised", 15, 30, 1, True, True, "慢性病,特病", [ID_CARD, DIAGNOSIS]),
            ("医疗费用手工报销", "promised", 20, 30, 1, False, True, "零星报销,报销", [ID_CARD, INVOICE, BANK]),
            ("医疗保险关系转移接续", "promised", 15, 45, 1, True, True, "医保转移", [ID_CARD, APPLY]),
        ],
    ),
    (
        "计划生育",
        "JS",
        "区卫生健康委员会",
        [
            ("生育登记", "immediate", 0, None, 0, True, False, "生育服务证,准生证", [ID_CARD, MARRIAGE]),
            ("独生子女父母光荣证补办", "promised", 5, 20, 1, False, True, "光荣证", [ID_CARD, HUKOU, PHOTO]),
            ("计划生育家庭特别扶助金申请", "promised", 20, 60, 1, False, True, "特扶,失独", [ID_CARD, HUKOU, BANK]),
            ("农村部分计划生育家庭奖励扶助金申请", "promised", 20, 60, 1, False, True, "奖扶", [ID_CARD, HUKOU, BANK]),
        ],
    ),
    (
        "非正规劳动组织",
        "FZ",
        "区人力资源和社会保障局",
        [
            (
                "非正规就业劳动组织成立认定",
                "promised",
                15,
                20,
                2,
                False,
                True,
                "非正规组织,成立",
                [ID_CARD, APPLY, MEMBERS],
            ),
            (
                "非正规就业劳动组织从业人员增减员",
                "immediate",
                0,
                None,
                1,
                True,
                True,
                "增员,减员",
                [ORG_LICENSE, MEMBERS],
            ),
            (
                "非正规就业劳动组织社会保险补贴申请",
                "promised",
                20,
                30,
                1,
                False,
                True,
                "社保补贴",
                [ORG_LICENSE, MEMBERS, BANK],
            ),
            ("非正规就业劳动组织年度审核", "promised", 10, 20, 1, False, True, "年审", [ORG_LICENSE, MEMBERS]),
            ("非正规就业劳动组织注销", "promised", 10, 20, 1, False, True, "注销", [ORG_LICENSE, APPLY]),
        ],
    ),
    (
        "社会救助",
        "JZ",
        "区民政局",
        [
            ("最低生活保障申请", "promised", 30, 30, 1, True, True, "低保", [ID_CARD, HUKOU, INCOME, BANK]),
            ("特困人员救助供养申请", "promised", 30, 30, 1, True, True, "特困,五保", [ID_CARD, HUKOU, INCOME]),
            ("临时救助申请", "promised", 10, 20, 1, True, True, "临时救助,急难", [ID_CARD, INCOME, APPLY]),
            ("低收入家庭认定", "promised", 30, 30, 1, True, True, "低收入,低边", [ID_CARD, HUKOU, INCOME]),
            ("医疗救助申请", "promised", 20, 30, 1, False, True, "大病救助", [ID_CARD, INVOICE, DIAGNOSIS]),
        ],
    ),
    (
        "社保卡",
        "SK",
        "区人力资源和社会保障局",
        [
            ("社会保障卡申领", "promised", 20, 30, 1, True, True, "社保卡,办卡,市民卡", [ID_CARD, PHOTO]),
            ("社会保障卡补换卡", "promised", 20, 30, 1, True, True, "社保卡,补卡,换卡", [ID_CARD, PHOTO]),
            ("社会保障卡临时挂失", "immediate", 0, None, 0, True, False, "社保卡,挂失", [ID_CARD]),
            ("社会保障卡解除挂失", "immediate", 0, None, 1, False, True, "社保卡,解挂", [ID_CARD, CARD]),
            ("社会保障卡密码重置", "immediate", 0, None, 1, False, True, "社保卡,密码", [ID_CARD, CARD]),
        ],
    ),
    (
        "工会医疗",
        "GH",
        "区总工会",
        [
            ("职工医疗互助保障参保登记", "immediate", 0, None, 1, False, True, "互助保障,工会", [ID_CARD, UNION]),
            (
                "职工医疗互助保障理赔申请",
                "promised",
                15,
                30,
                1,
                False,
                True,
                "互助理赔",
                [ID_CARD, UNION, INVOICE, BANK],
            ),
            ("困难职工帮扶申请", "promised", 20, 30, 1, False, True, "帮扶,困难职工", [ID_CARD, UNION, INCOME]),
        ],
    ),
]

#: Windows: number, name, queue prefix, categories served.
WINDOWS = [
    (1, "社保医保综合窗口", "A", ("社会保障", "医疗保险", "社保卡")),
    (2, "就业与劳动组织窗口", "B", ("劳动保障", "非正规劳动组织", "工会医疗")),
    (3, "民政与卫健窗口", "C", ("社会救助", "计划生育")),
]


def _sessions(window_id: int) -> list[Session]:
    sessions = []
    for weekday in range(5):
        sessions.append(
            Session(
                window_id=window_id,
                weekday=weekday,
                starts_at=time(9),
                ends_at=time(12),
                slot_minutes=30,
                capacity=4,
                workday_only=True,
                label="上午",
            )
        )
        sessions.append(
            Session(
                window_id=window_id,
                weekday=weekday,
                starts_at=time(13, 30),
                ends_at=time(17),
                slot_minutes=30,
                capacity=4,
                workday_only=True,
                label="下午",
            )
        )
    for weekday in (1, 3):  # 周二、周四延时服务
        sessions.append(
            Session(
                window_id=window_id,
                weekday=weekday,
                starts_at=time(18),
                ends_at=time(20),
                slot_minutes=30,
                capacity=2,
                workday_only=False,
                label="延时服务",
            )
        )
    sessions.append(
        Session(
            window_id=window_id,
            weekday=5,
            starts_at=time(9),
            ends_at=time(12),
            slot_minutes=30,
            capacity=2,
            workday_only=False,
            label="周六服务",
        )
    )
    return sessions


@seeder("govservice", order=50)
def seed_govservice() -> None:
    community = db.session.scalar(
        sa.select(Region).where(Region.name == "幸福社区", Region.kind == RegionKind.community)
    )
    if community is None:  # the identity seed did not run: nothing to attach a centre to
        return
    centre = Centre(
        region_id=community.id,
        name=CENTRE_NAME,
        address="示范区幸福路 1 号 社区党群服务中心一层",
        phone=PHONE,
        supervision_phone=SUPERVISION,
        hours=HOURS,
        latest_days=7,
    )
    db.session.add(centre)
    db.session.flush()
    items_by_category: dict[str, list[int]] = {}
    now = utcnow()
    for position, (category_name, prefix, department, items) in enumerate(CATALOGUE):
        category = Category(
            centre_id=centre.id, name=category_name, position=position, search=search_key(category_name)
        )
        db.session.add(category)
        db.session.flush()
        for number, (name, kind, promised, statutory, visits, online, bookable, keywords, materials) in enumerate(
            items, start=1
        ):
            item = GuideItem(centre_id=centre.id, code=f"{prefix}-{number:03d}")
            db.session.add(item)
            db.session.flush()
            version = GuideVersion(
                item_id=item.id,
                centre_id=centre.id,
                number=1,
                status=VersionStatus.published,
                published_at=now,
                category_id=category.id,
                name=name,
                department=department,
                legal_basis=SOCIAL_INSURANCE_LAW if prefix in ("SB", "YB", "SK") else "依据国家和本市有关规定",
                conditions="本社区户籍居民或持本市居住证的常住人员，符合政策规定条件。",
                process="1. 网上或窗口提交申请；2. 窗口受理并审核材料；3. 部门办理；4. 办结并告知结果。",
                fee_standard="不收费",
                statutory_days=statutory,
                promised_days=promised,
                kind=ItemKind(kind),
                place=f"{CENTRE_NAME}一层综合服务窗口",
                hours=HOURS,
                phone=PHONE,
                supervision_phone=SUPERVISION,
                visits=visits,
                online=online,
                bookable=bookable,
                keywords=keywords,
                faq=[
                    {"question": "可以由家属代办吗？", "answer": "可以。家属在应用中获得代办授权后可代为预约和申请。"}
                ],
                search=search_key(name, item.code, keywords),
            )
            db.session.add(version)
            db.session.flush()
            for index, material in enumerate(materials):
                db.session.add(GuideMaterial(version_id=version.id, position=index, **material))
            items_by_category.setdefault(category_name, []).append(item.id)
    for number, name, prefix, categories in WINDOWS:
        window = Window(centre_id=centre.id, number=number, name=name, queue_prefix=prefix)
        db.session.add(window)
        db.session.flush()
        for category_name in categories:
            for item_id in items_by_category[category_name]:
                db.session.add(WindowItem(window_id=window.id, item_id=item_id, centre_id=centre.id))
        db.session.add_all(_sessions(window.id))
    db.session.flush()


# --- departments and application routing (网上申办) -----------------------------------------------------------------

#: Departments of 幸福街道 (code, name, phone) and, per guide category, how its online 承诺件 are routed.
DEMO_DEPARTMENTS = (
    ("SBS", "幸福街道社会保障事务所", "010-65002001"),
    ("MZK", "幸福街道民政科", "010-65002002"),
    ("WJK", "幸福街道卫生健康办公室", "010-65002003"),
)
DEMO_ROUTING = {
    "社会救助": ("serial", ("MZK", "SBS")),  # 民政科 checks the household first, then 社保所 confirms income
    "社会保障": ("parallel", ("SBS",)),
    "社保卡": ("parallel", ("SBS",)),
    "计划生育": ("parallel", ("WJK", "MZK")),
}


@seeder("govservice.departments", order=55)
def seed_departments() -> None:
    """Departments of the demo street, and routing for the centre's online items (after ``seed_govservice``)."""
    from govservice.application_models import ItemRouting, ItemRoutingDepartment, RoutingMode
    from govservice.department_models import Department

    street = db.session.scalar(sa.select(Region).where(Region.name == "幸福街道", Region.kind == RegionKind.street))
    centre = db.session.scalar(sa.select(Centre).where(Centre.name == CENTRE_NAME))
    if street is None or centre is None:
        return
    departments = {}
    for code, name, phone in DEMO_DEPARTMENTS:
        department = Department(region_id=street.id, code=code, name=name, phone=phone)
        db.session.add(department)
        departments[code] = department
    db.session.flush()
    rows = db.session.execute(
        sa.select(GuideVersion.item_id, Category.name)
        .join(Category, Category.id == GuideVersion.category_id)
        .where(
            GuideVersion.centre_id == centre.id,
            GuideVersion.status == VersionStatus.published,
            GuideVersion.online,
            GuideVersion.kind == ItemKind.promised,
        )
    ).all()
    for item_id, category_name in rows:
        if category_name not in DEMO_ROUTING:
            continue
        mode, codes = DEMO_ROUTING[category_name]
        db.session.add(ItemRouting(item_id=item_id, mode=RoutingMode(mode)))
        db.session.flush()
        db.session.add_all(
            ItemRoutingDepartment(item_id=item_id, position=n, department_id=departments[code].id)
            for n, code in enumerate(codes, start=1)
        )
    db.session.flush()
