"""Eldercare request and response schemas (money in integer fen, times in +08:00)."""

from __future__ import annotations

from marshmallow import fields, validate

from app.api import CursorArgsSchema, Schema, cursor_page_schema
from eldercare.models import CareCategory, CareLevel, CareOrderStatus

CATEGORIES = [c.value for c in CareCategory]
#: What callers see of a rule snapshot: its tag condition (低保, 特困 …) is sensitive and stays on the server.
SHOWN_RULE_KEYS = ("id", "name", "copay_bps", "monthly_quota_fen", "valid_from", "valid_to")


def shown_rule(snapshot: dict | None) -> dict | None:
    return {key: snapshot.get(key) for key in SHOWN_RULE_KEYS} if snapshot else None


RULE_DESCRIPTION = {"description": "适用的补贴规则（下单时的快照）；无则按原价"}


class EmergencyContactSchema(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=32))
    phone = fields.String(required=True, validate=validate.Regexp(r"^\+?[0-9-]{5,20}$"))
    relation = fields.String(load_default=None, validate=validate.Length(max=16))


class ElderUpdateSchema(Schema):
    care_level = fields.String(
        allow_none=True,
        validate=validate.OneOf([c.value for c in CareLevel]),
        metadata={"description": "independent 自理 / partly_dependent 半失能 / dependent 失能（仅工作人员）"},
    )
    emergency_contacts = fields.List(fields.Nested(EmergencyContactSchema), validate=validate.Length(max=5))
    health_notes = fields.String(
        allow_none=True, validate=validate.Length(max=500), metadata={"description": "须本人敏感个人信息单独同意"}
    )
    reason = fields.String(load_default=None, validate=validate.Length(max=200))


class ElderSchema(Schema):
    resident_id = fields.String()
    real_name = fields.String()
    age = fields.Integer(allow_none=True)
    care_level = fields.String(allow_none=True)
    assessed_at = fields.DateTime(allow_none=True)
    emergency_contacts = fields.List(fields.Nested(EmergencyContactSchema))
    has_health_notes = fields.Boolean()
    subsidy_rule = fields.Function(lambda e: shown_rule(e["subsidy_rule"]), allow_none=True, metadata=RULE_DESCRIPTION)
    remaining_quota_fen = fields.Integer()


class EligibilityRuleCreateSchema(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=64))
    district_id = fields.String(load_default=None, validate=validate.Length(max=24))
    min_age = fields.Integer(load_default=None, strict=True, validate=validate.Range(min=0, max=150))
    hukou = fields.String(load_default=None, validate=validate.OneOf(["local", "non_local"]))
    tag_code = fields.String(load_default=None, validate=validate.Length(min=1, max=32))
    copay_bps = fields.Integer(required=True, strict=True, validate=validate.Range(min=0, max=10000))
    monthly_quota_fen = fields.Integer(required=True, strict=True, validate=validate.Range(min=0, max=10**9))
    valid_from = fields.Date(required=True)
    valid_to = fields.Date(load_default=None)
    priority = fields.Integer(load_default=100, strict=True, validate=validate.Range(min=0, max=10000))


class EligibilityRuleSchema(Schema):
    """Dumps ``subsidies.rule_view``."""

    id = fields.String()
    name = fields.String()
    district_id = fields.String(allow_none=True)
    min_age = fields.Integer(allow_none=True)
    hukou = fields.String(allow_none=True)
    tag_code = fields.String(allow_none=True)
    copay_bps = fields.Integer()
    monthly_quota_fen = fields.Integer()
    valid_from = fields.Date()
    valid_to = fields.Date(allow_none=True)
    priority = fields.Integer()


class CareProviderCreateSchema(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=64))
    licence_no = fields.String(required=True, validate=validate.Length(min=1, max=32))
    contact_phone = fields.String(required=True, validate=validate.Regexp(r"^\+?[0-9-]{5,20}$"))
    community_ids = fields.List(
        fields.String(validate=validate.Length(max=24)), required=True, validate=validate.Length(min=1, max=50)
    )


class CareProviderSchema(Schema):
    id = fields.String(attribute="public_id")
    name = fields.String()
    licence_no = fields.String()
    contact_phone = fields.String()
    status = fields.Function(lambda p: p.status.value)
    status_note = fields.String(allow_none=True)
    community_ids = fields.Function(lambda p: _communities(p))
    created_at = fields.DateTime()
    decided_at = fields.DateTime(allow_none=True)


def _communities(provider):
    from eldercare.providers import community_public_ids

    return community_public_ids(provider.scope_community_ids())


class CareProviderDecisionSchema(Schema):
    note = fields.String(load_default=None, validate=validate.Length(max=200))
    payee_id = fields.String(load_default=None, validate=validate.Length(max=24))


class CareProviderStaffCreateSchema(Schema):
    user_id = fields.String(required=True, validate=validate.Length(min=1, max=24))
    role = fields.String(required=True, validate=validate.OneOf(["provider_admin", "caregiver"]))


class CareProviderStaffSchema(Schema):
    user_id = fields.String()
    role = fields.String()


class CareItemCreateSchema(Schema):
    category = fields.String(required=True, validate=validate.OneOf(CATEGORIES))
    name = fields.String(required=True, validate=validate.Length(min=1, max=64))
    description = fields.String(load_default=None, validate=validate.Length(max=500))


class CareItemSchema(Schema):
    id = fields.String(attribute="public_id")
    category = fields.Function(lambda i: i.category.value)
    name = fields.String()
    description = fields.String(allow_none=True)


class CareItemQueryArgsSchema(Schema):
    category = fields.String(load_default=None, validate=validate.OneOf(CATEGORIES))


class CareOfferCreateSchema(Schema):
    item_id = fields.String(required=True, validate=validate.Length(min=1, max=24))
    price_fen = fields.Integer(required=True, strict=True, validate=validate.Range(min=1, max=10**8))
    duration_minutes = fields.Integer(required=True, strict=True, validate=validate.Range(min=1, max=24 * 60))
    community_ids = fields.List(
        fields.String(validate=validate.Length(max=24)), required=True, validate=validate.Length(min=1, max=50)
    )


class CareOfferSchema(Schema):
    id = fields.String()
    item_id = fields.String()
    item_name = fields.String()
    category = fields.String()
    provider_id = fields.String()
    provider_name = fields.String()
    price_fen = fields.Integer()
    duration_minutes = fields.Integer()
    community_ids = fields.List(fields.String())


class CareOfferQueryArgsSchema(Schema):
    category = fields.String(load_default=None, validate=validate.OneOf(CATEGORIES))
    community_id = fields.String(load_default=None, validate=validate.Length(max=24))


class CareOrderCreateSchema(Schema):
    offer_id = fields.String(required=True, validate=validate.Length(min=1, max=24))
    elder_id = fields.String(
        load_default=None,
        validate=validate.Length(max=24),
        metadata={"description": "老人的居民 id；不填则为本人下单"},
    )
    scheduled_at = fields.AwareDateTime(required=True)
    notes = fields.String(load_default=None, validate=validate.Length(max=200))
    reason = fields.String(
        load_default=None, validate=validate.Length(max=200), metadata={"description": "工作人员电话代下单的事由"}
    )


class CareQuoteSchema(Schema):
    offer_id = fields.String()
    item_name = fields.String()
    provider_name = fields.String()
    price_fen = fields.Integer()
    subsidy_fen = fields.Integer()
    copay_fen = fields.Integer()
    remaining_quota_fen = fields.Integer()
    rule = fields.Function(lambda q: shown_rule(q["rule"]), allow_none=True, metadata=RULE_DESCRIPTION)


class CareOrderSchema(Schema):
    id = fields.String(attribute="public_id")
    status = fields.Function(lambda o: o.status.value)
    category = fields.Function(lambda o: o.category.value)
    item_name = fields.String()
    scheduled_at = fields.DateTime()
    duration_minutes = fields.Integer()
    notes = fields.String(allow_none=True)
    placed_via = fields.Function(lambda o: o.placed_via.value)
    price_fen = fields.Integer()
    subsidy_fen = fields.Integer()
    copay_fen = fields.Integer()
    refunded_fen = fields.Integer()
    subsidy_month = fields.Date()
    rule = fields.Function(lambda o: shown_rule(o.rule_snapshot), allow_none=True, metadata=RULE_DESCRIPTION)
    payment_id = fields.String(attribute="payment_public_id", allow_none=True)
    expires_at = fields.DateTime(allow_none=True, metadata={"description": "自付部分须在此前支付"})
    status_note = fields.String(allow_none=True)
    cancelled_by = fields.Function(
        lambda o: o.cancelled_by.value if o.cancelled_by else None,
        allow_none=True,
        metadata={"description": "family 老人或家属 / provider 服务机构"},
    )
    cancellation_fee_fen = fields.Integer(metadata={"description": "晚于免费取消时限取消时服务机构收取的费用（分）"})
    delivered_at = fields.DateTime(allow_none=True)
    created_at = fields.DateTime()


CareOrderPageSchema = cursor_page_schema(CareOrderSchema, "CareOrderPageSchema")


class CareOrderQueryArgsSchema(CursorArgsSchema):
    elder_id = fields.String(load_default=None, validate=validate.Length(max=24))


class CareProviderOrderQueryArgsSchema(CursorArgsSchema):
    status = fields.String(load_default=None, validate=validate.OneOf([s.value for s in CareOrderStatus]))


class CareOrderAcceptSchema(Schema):
    note = fields.String(load_default=None, validate=validate.Length(max=200))


class CareOrderDeclineSchema(Schema):
    reason = fields.String(required=True, validate=validate.Length(min=1, max=200))


class CareOrderCancelSchema(Schema):
    reason = fields.String(load_default=None, validate=validate.Length(max=200))


# --- caregivers, visits, cancellation fees, subsidy claims -----------------------------------------------------------


class CaregiverSkillsSchema(Schema):
    skills = fields.List(
        fields.String(validate=validate.OneOf(CATEGORIES)),
        required=True,
        validate=validate.Length(max=len(CATEGORIES)),
        metadata={"description": "可指派的服务类别"},
    )


class CaregiverSchema(Schema):
    user_id = fields.String()
    name = fields.String()
    skills = fields.List(fields.String())


CaregiverPageSchema = cursor_page_schema(CaregiverSchema, "CaregiverPageSchema")


class CareVisitAssignSchema(Schema):
    caregiver_id = fields.String(required=True, validate=validate.Length(min=1, max=24))


class CareVisitCheckInSchema(Schema):
    lat = fields.Float(required=True, allow_nan=False, validate=validate.Range(min=-90, max=90))
    lng = fields.Float(required=True, allow_nan=False, validate=validate.Range(min=-180, max=180))
    photo_id = fields.String(
        load_default=None, validate=validate.Length(min=1, max=24), metadata={"description": "私有上传文件的 id"}
    )


class CareVisitCheckOutSchema(Schema):
    service_record = fields.String(
        required=True, validate=validate.Length(min=1, max=1000), metadata={"description": "服务内容记录"}
    )
    notes = fields.String(load_default=None, validate=validate.Length(max=500))


class CareVisitConfirmSchema(Schema):
    rating = fields.Integer(required=True, strict=True, validate=validate.Range(min=1, max=5))
    comment = fields.String(load_default=None, validate=validate.Length(max=500))


class CareNoAnswerSchema(Schema):
    note = fields.String(load_default=None, validate=validate.Length(max=200))


class CareReasonSchema(Schema):
    reason = fields.String(required=True, validate=validate.Length(min=1, max=200))


class CareLocationSchema(Schema):
    lat = fields.Float()
    lng = fields.Float()


class CarePhotoSchema(Schema):
    id = fields.String()
    url = fields.String()
    url_expires_at = fields.DateTime(allow_none=True)


class CareCaregiverRefSchema(Schema):
    id = fields.String()
    name = fields.String()


class CareVisitSchema(Schema):
    order_id = fields.String()
    status = fields.String()
    item_name = fields.String()
    scheduled_at = fields.DateTime()
    address = fields.String(allow_none=True, metadata={"description": "上门地址（老人在该社区的住户）"})
    caregiver = fields.Nested(CareCaregiverRefSchema, allow_none=True)
    assigned_at = fields.DateTime(allow_none=True)
    checked_in_at = fields.DateTime(allow_none=True)
    check_in_location = fields.Nested(CareLocationSchema, allow_none=True)
    check_in_photo = fields.Nested(CarePhotoSchema, allow_none=True)
    checked_out_at = fields.DateTime(allow_none=True)
    service_record = fields.String(allow_none=True)
    service_notes = fields.String(allow_none=True)
    confirmed_at = fields.DateTime(allow_none=True)
    auto_confirmed = fields.Boolean()
    rating = fields.Integer(allow_none=True)
    rating_comment = fields.String(allow_none=True)
    late_alert_at = fields.DateTime(allow_none=True)
    no_answer_at = fields.DateTime(allow_none=True)
    no_show_at = fields.DateTime(allow_none=True)


class CareAssignmentSchema(Schema):
    order_id = fields.String()
    status = fields.String()
    item_name = fields.String()
    category = fields.String()
    scheduled_at = fields.DateTime()
    duration_minutes = fields.Integer()
    notes = fields.String(allow_none=True)
    elder_name = fields.String()
    assigned_at = fields.DateTime(allow_none=True)
    checked_in_at = fields.DateTime(allow_none=True)
    checked_out_at = fields.DateTime(allow_none=True)


CareAssignmentPageSchema = cursor_page_schema(CareAssignmentSchema, "CareAssignmentPageSchema")


class CareProviderFeeSchema(Schema):
    cancellation_fee_fen = fields.Integer(required=True, strict=True, validate=validate.Range(min=0, max=10**7))


class CareProviderFeeOutSchema(Schema):
    id = fields.String(attribute="public_id")
    cancellation_fee_fen = fields.Integer()


class CareOfferFeeSchema(Schema):
    cancellation_fee_fen = fields.Integer(
        required=True,
        strict=True,
        allow_none=True,
        validate=validate.Range(min=0, max=10**7),
        metadata={"description": "null：按服务机构的取消费"},
    )


class CareOfferFeeOutSchema(Schema):
    offer_id = fields.String()
    cancellation_fee_fen = fields.Integer(allow_none=True)


class CareClaimArgsSchema(Schema):
    month = fields.String(
        required=True, validate=validate.Regexp(r"^\d{4}-\d{2}$"), metadata={"description": "补贴月份 YYYY-MM"}
    )


class CareClaimRowSchema(Schema):
    community = fields.String()
    elder_id = fields.String()
    elder_name = fields.String()
    visits = fields.Integer()
    price_fen = fields.Integer()
    subsidy_fen = fields.Integer()
    copay_fen = fields.Integer()


class CareClaimTotalsSchema(Schema):
    elders = fields.Integer()
    visits = fields.Integer()
    price_fen = fields.Integer()
    subsidy_fen = fields.Integer()
    copay_fen = fields.Integer()


class CareClaimReportSchema(Schema):
    provider_id = fields.String()
    provider_name = fields.String()
    month = fields.String()
    rows = fields.List(fields.Nested(CareClaimRowSchema))
    totals = fields.Nested(CareClaimTotalsSchema)
