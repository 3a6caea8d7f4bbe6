"""Resident endpoints: ``/me`` (one's profile, consents, export, deletion), memberships, delegations, and the staff
views of residents and tags."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from flask.views import MethodView

from app.accounts import consent, delegation, households, profile, resident_staff, residents, tags
from app.accounts import demo as _demo  # noqa: F401  (registers the identity demo seeder)
from app.accounts.schemas import (
    ConsentKindSchema,
    ConsentSchema,
    DecisionSchema,
    DelegationNoteSchema,
    DelegationRequestSchema,
    DelegationSchema,
    EndMembershipSchema,
    EraseArgsSchema,
    EraseResultSchema,
    HealthNotesSchema,
    LinkAccountSchema,
    MembershipSchema,
    MeSchema,
    ProfileSchema,
    ReasonArgsSchema,
    ResidentDetailsSchema,
    ResidentListArgsSchema,
    ResidentPageSchema,
    ResidentRegisterSchema,
    ResidentTagAddSchema,
    ResidentUpdateSchema,
    RevealSchema,
    StaffResidentSchema,
    StaffTagSchema,
    SubjectProfileArgsSchema,
    TagDefinitionSchema,
    TagListArgsSchema,
    VerificationDecisionSchema,
    VerificationRequestSchema,
)
from app.api import Blueprint, LocalDateTime
from app.auth import current_user, require
from app.auth.scopes import scoped

blp = Blueprint("accounts", __name__, url_prefix="/api/v1", description="居民、房屋成员、代办授权与个人信息")

_SELF = "the signed-in person (their own records)"


def _staff_resident(resident_public_id: str) -> dict[str, Any]:
    user = current_user()
    resident = residents.staff_resident(user, resident_public_id)
    data = profile.profile_of(resident, include_sensitive_tags=True)
    return {**data.__dict__, "verification_note": resident.verification_note}


# --- /me -----------------------------------------------------------------------------------------------------------


@blp.route("/me")
class Me(MethodView):
    @blp.response(200, MeSchema)
    @require()
    def get(self):
        """My profile (masked), households, tags, `ready_for` and `missing`

        `ready_for` lists the registered requirements (e.g. `eldercare.order`) whose facts are all known; `missing`
        maps every other requirement to the facts still to ask for, so each is asked once.
        """
        return profile.me(current_user())

    @blp.arguments(EraseArgsSchema, location="query")
    @blp.response(200, EraseResultSchema)
    @scoped(also=_SELF)
    def delete(self, _args):
        """Delete my account (注销)

        Personal data is removed or anonymised; the answer lists what domains keep and why (retention registry).
        """
        return consent.erase_account(current_user())


@blp.route("/me/resident")
class MyResident(MethodView):
    @blp.arguments(ResidentDetailsSchema)
    @blp.response(200, ProfileSchema)
    @scoped(also=_SELF)
    def put(self, data):
        """Give my real-name details once (or correct them before verification)

        The document number is checked by type (居民身份证 with its checksum and birth date), stored encrypted and
        returned masked; birth date and gender come from it when it carries them.
        """
        resident = residents.save_own_details(current_user(), data)
        return profile.profile_of(resident)


@blp.route("/me/resident/verification")
class MyVerification(MethodView):
    @blp.arguments(VerificationRequestSchema)
    @blp.response(200, ProfileSchema)
    @scoped(also=_SELF)
    def post(self, data):
        """Ask community staff to verify my details"""
        resident = residents.request_verification(current_user(), data["community_id"])
        return profile.profile_of(resident)


@blp.route("/me/health-notes")
class MyHealthNotes(MethodView):
    @blp.arguments(HealthNotesSchema)
    @blp.response(204)
    @scoped(also=_SELF)
    def put(self, data):
        """Record my health notes (needs the separate sensitive-data consent)"""
        residents.update_health_notes(current_user(), None, data["notes"])


@blp.route("/me/memberships")
class MyMemberships(MethodView):
    @blp.response(200, MembershipSchema(many=True))
    @scoped(also=_SELF)
    def get(self):
        """My household memberships and open join requests"""
        from app.community.services import household_addresses

        rows = households.my_memberships(current_user())
        addresses = household_addresses(household for _m, household in rows)
        return [households.membership_view(m, addresses[h.id]) for m, h in rows]


@blp.route("/me/delegations")
class MyDelegations(MethodView):
    @blp.response(200, DelegationSchema(many=True))
    @scoped(also=_SELF)
    def get(self):
        """Delegations where I act for someone, or someone acts for me"""
        user = current_user()
        me = residents.resident_for_user(user)
        return [
            delegation.delegation_view(d, actor, subject, "actor" if actor.id == me.id else "subject")
            for d, actor, subject in delegation.my_delegations(user)
        ]


@blp.route("/me/consents")
class MyConsents(MethodView):
    @blp.response(200, ConsentSchema(many=True))
    @scoped(also=_SELF)
    def get(self):
        """Consents I gave (with policy versions) and withdrew"""
        return consent.consents_of(current_user())

    @blp.arguments(ConsentSchema)
    @blp.response(201, ConsentSchema)
    @scoped(also=_SELF)
    def post(self, data):
        """Accept a policy version (privacy policy, or the separate consent to sensitive data)"""
        return consent.give_consent(current_user(), data["kind"], data["policy_version"])


@blp.route("/me/consents/withdraw")
class MyConsentWithdrawal(MethodView):
    @blp.arguments(ConsentKindSchema)
    @blp.response(204)
    @scoped(also=_SELF)
    def post(self, data):
        """Withdraw a consent"""
        consent.withdraw_consent(current_user(), data["kind"])


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return LocalDateTime()._serialize(value, None, None)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    return value


@blp.route("/me/export")
class MyExport(MethodView):
    @blp.response(200)
    @scoped(also=_SELF)
    def get(self):
        """Export everything held about me (PIPL), in clear; every export is logged"""
        return _plain(consent.export_my_data(current_user()))


# --- memberships ---------------------------------------------------------------------------------------------------


@blp.route("/memberships/<string:membership_id>/approve")
class MembershipApprove(MethodView):
    @blp.arguments(DecisionSchema)
    @blp.response(200, MembershipSchema)
    @scoped("membership.decide", also="the head of the household (not for a head request)")
    def post(self, data, membership_id):
        """Approve a join request (exactly one decision wins)"""
        membership = households.decide_join(
            current_user(), membership_id, approve=True, note=data["note"], starts_on=data["starts_on"]
        )
        return households.membership_view(membership)


@blp.route("/memberships/<string:membership_id>/reject")
class MembershipReject(MethodView):
    @blp.arguments(DecisionSchema)
    @blp.response(200, MembershipSchema)
    @scoped("membership.decide", also="the head of the household")
    def post(self, data, membership_id):
        """Reject a join request"""
        membership = households.decide_join(current_user(), membership_id, approve=False, note=data["note"])
        return households.membership_view(membership)


@blp.route("/memberships/<string:membership_id>/end")
class MembershipEnd(MethodView):
    @blp.arguments(EndMembershipSchema)
    @blp.response(200, MembershipSchema)
    @scoped("membership.decide", also="the member themself or the head of the household")
    def post(self, data, membership_id):
        """Move out (ends the membership), or withdraw a pending request"""
        membership = households.end_membership(
            current_user(), membership_id, ends_on=data["ends_on"], note=data["note"]
        )
        return households.membership_view(membership)


# --- delegations ---------------------------------------------------------------------------------------------------


@blp.route("/delegations")
class Delegations(MethodView):
    @blp.arguments(DelegationRequestSchema)
    @blp.response(201, DelegationSchema)
    @scoped(also="a resident asking to act for another")
    def post(self, data):
        """Ask to act for someone (代办 / 家属绑定)

        Name them by `subject_id` (a member of one of your households) or by `subject` (real name and document, both
        must match). They approve in the app, or staff approve after checking in person.
        """
        user = current_user()
        item = delegation.request_delegation(
            user,
            relationship=data["relationship"],
            scopes=data["scopes"],
            expires_at=data["expires_at"],
            subject_id=data["subject_id"],
            subject=data["subject"],
        )
        return delegation.describe(user, item)


@blp.route("/delegations/<string:delegation_id>")
class DelegationById(MethodView):
    @blp.response(200, DelegationSchema)
    @scoped("resident.read", also="the actor or the subject")
    def get(self, delegation_id):
        """A delegation"""
        user = current_user()
        item, actor, subject = delegation.delegation_for(user, delegation_id)
        return delegation.delegation_view(item, actor, subject, delegation.view_of(user, item))


@blp.route("/delegations/<string:delegation_id>/approve")
class DelegationApprove(MethodView):
    @blp.arguments(DelegationNoteSchema)
    @blp.response(200, DelegationSchema)
    @scoped("delegation.decide", also="the subject (in the app)")
    def post(self, data, delegation_id):
        """Approve a delegation: the subject in the app, or staff after an in-person check (`note` required)"""
        user = current_user()
        return delegation.describe(user, delegation.approve_delegation(user, delegation_id, note=data["note"]))


@blp.route("/delegations/<string:delegation_id>/reject")
class DelegationReject(MethodView):
    @blp.arguments(DelegationNoteSchema)
    @blp.response(200, DelegationSchema)
    @scoped("delegation.decide", also="the subject")
    def post(self, data, delegation_id):
        """Reject a delegation request"""
        user = current_user()
        return delegation.describe(user, delegation.reject_delegation(user, delegation_id, note=data["note"]))


@blp.route("/delegations/<string:delegation_id>/revoke")
class DelegationRevoke(MethodView):
    @blp.arguments(DelegationNoteSchema)
    @blp.response(200, DelegationSchema)
    @scoped("delegation.decide", also="the actor or the subject")
    def post(self, data, delegation_id):
        """Revoke a delegation (either side, at once)"""
        user = current_user()
        return delegation.describe(user, delegation.revoke_delegation(user, delegation_id, reason=data["note"]))


# --- staff: residents ----------------------------------------------------------------------------------------------


@blp.route("/residents")
class Residents(MethodView):
    @blp.arguments(ResidentListArgsSchema, location="query")
    @blp.response(200, ResidentPageSchema)
    @scoped("resident.read")
    def get(self, args):
        """Residents in my communities (newest first, by cursor); filter by community, tag, 高龄, name, document"""
        cursor, limit = args.pop("cursor"), args.pop("limit")
        return resident_staff.list_residents(current_user(), args, cursor=cursor, limit=limit)

    @blp.arguments(ResidentRegisterSchema)
    @blp.response(201, StaffResidentSchema)
    @scoped("resident.register")
    def post(self, data):
        """Register a resident in person (e.g. an elder without a phone), optionally into a household"""
        resident = resident_staff.register_resident(current_user(), data)
        return _staff_resident(resident.public_id)


@blp.route("/residents/<string:resident_id>")
class ResidentById(MethodView):
    @blp.response(200, StaffResidentSchema)
    @scoped("resident.read")
    def get(self, resident_id):
        """A resident (masked document; all tags with reasons)"""
        return _staff_resident(resident_id)

    @blp.arguments(ResidentUpdateSchema)
    @blp.response(200, StaffResidentSchema)
    @scoped("resident.update")
    def patch(self, data, resident_id):
        """Correct a resident's details (audited with the reason)"""
        reason = data.pop("reason")
        resident_staff.update_resident(current_user(), resident_id, data, reason=reason)
        return _staff_resident(resident_id)


@blp.route("/residents/<string:resident_id>/profile")
class ResidentProfileForDelegate(MethodView):
    @blp.arguments(SubjectProfileArgsSchema, location="query")
    @blp.response(200, ProfileSchema)
    @scoped(also="a delegate of the resident (an active delegation, covering `scope` when given), or the resident")
    def get(self, args, resident_id):
        """The profile of a resident I act for (name masked)

        A daughter holding an approved delegation reads her mother's prefilled details before acting for her.
        No delegation: 404; a pending, expired, revoked or out-of-scope one: 403 `delegation_denied`. Logged.
        """
        return delegation.subject_profile(current_user(), resident_id, args.get("scope"))


@blp.route("/residents/<string:resident_id>/verification")
class ResidentVerification(MethodView):
    @blp.arguments(VerificationDecisionSchema)
    @blp.response(200, StaffResidentSchema)
    @scoped("resident.verify")
    def post(self, data, resident_id):
        """Verify (or reject) a pending resident after checking the document"""
        residents.decide_verification(current_user(), resident_id, approve=data["approve"], note=data["note"])
        return _staff_resident(resident_id)


@blp.route("/residents/<string:resident_id>/sensitive")
class ResidentReveal(MethodView):
    @blp.arguments(ReasonArgsSchema, location="query")
    @blp.response(200, RevealSchema)
    @scoped("resident.unmask")
    def get(self, args, resident_id):
        """The full document number (and consented health notes); every view is logged with its reason"""
        return resident_staff.reveal(current_user(), resident_id, reason=args["reason"])


@blp.route("/residents/<string:resident_id>/account")
class ResidentAccount(MethodView):
    @blp.arguments(LinkAccountSchema)
    @blp.response(200, StaffResidentSchema)
    @scoped("resident.update")
    def post(self, data, resident_id):
        """Link an account to a resident registered by staff (after checking the person in person)"""
        resident_staff.link_account(current_user(), resident_id, data["user_id"], reason=data["reason"])
        return _staff_resident(resident_id)


@blp.route("/residents/<string:resident_id>/health-notes")
class ResidentHealthNotes(MethodView):
    @blp.arguments(HealthNotesSchema)
    @blp.response(204)
    @scoped("resident.update")
    def put(self, data, resident_id):
        """Record a resident's health notes (needs their separate sensitive-data consent)"""
        residents.update_health_notes(current_user(), resident_id, data["notes"])


@blp.route("/residents/<string:resident_id>/consents")
class ResidentConsents(MethodView):
    @blp.arguments(ConsentSchema)
    @blp.response(201, ConsentSchema)
    @scoped("resident.update")
    def post(self, data, resident_id):
        """Record a consent given in person (a resident without an account)"""
        return consent.record_consent_in_person(current_user(), resident_id, data["kind"], data["policy_version"])


@blp.route("/residents/<string:resident_id>/delegations")
class ResidentDelegations(MethodView):
    @blp.response(200, DelegationSchema(many=True))
    @scoped("resident.read")
    def get(self, resident_id):
        """Delegations to and from a resident"""
        return [
            delegation.delegation_view(d, actor, subject, "staff")
            for d, actor, subject in delegation.resident_delegations(current_user(), resident_id)
        ]


@blp.route("/residents/<string:resident_id>/tags")
class ResidentTags(MethodView):
    @blp.arguments(ResidentTagAddSchema)
    @blp.response(201, StaffTagSchema(many=True))
    @scoped("resident.tag")
    def post(self, data, resident_id):
        """Tag a resident (audited with the reason)"""
        user = current_user()
        tags.add_resident_tag(
            user, resident_id, data["tag_id"], reason=data["reason"], level_public_id=data["level_id"]
        )
        return tags.tags_of(residents.get_resident(resident_id), include_sensitive=True)


@blp.route("/residents/<string:resident_id>/tags/<string:tag_id>")
class ResidentTag(MethodView):
    @blp.arguments(ReasonArgsSchema, location="query")
    @blp.response(204)
    @scoped("resident.tag")
    def delete(self, args, resident_id, tag_id):
        """Remove a tag (audited with the reason; a district's tag needs district staff)"""
        tags.remove_resident_tag(current_user(), resident_id, tag_id, reason=args["reason"])


@blp.route("/tags")
class Tags(MethodView):
    @blp.arguments(TagListArgsSchema, location="query")
    @blp.response(200, TagDefinitionSchema(many=True))
    @scoped(also="any signed-in account")
    def get(self, args):
        """Built-in tags, and the custom tags usable in a region"""
        return tags.list_tags(args["region"])

    @blp.arguments(TagDefinitionSchema)
    @blp.response(201, TagDefinitionSchema)
    @scoped("resident.tag")
    def post(self, data):
        """Create a custom tag for a community or district"""
        return tags.create_tag(current_user(), data["region_id"], name=data["name"], sensitive=data["sensitive"])
