"""Community tree endpoints: the directory (any signed-in user), staff CRUD within scope, CSV import, households."""

from __future__ import annotations

from flask import request
from flask.views import MethodView

from app.accounts import households as memberships
from app.accounts.schemas import JoinRequestSchema, MemberAddSchema, MembershipListArgsSchema, MembershipSchema
from app.api import Blueprint
from app.auth import current_user, require
from app.auth.scopes import scoped
from app.community import importer, roles, services
from app.community.errors import ImportFailed
from app.community.schemas import (
    BuildingSchema,
    BuildingUpdateSchema,
    EstateSchema,
    EstateUpdateSchema,
    HouseholdBriefPageSchema,
    HouseholdBriefSchema,
    HouseholdCreateSchema,
    HouseholdListArgsSchema,
    HouseholdSchema,
    HouseholdUpdateSchema,
    ImportResultSchema,
    MemberSchema,
    RegionListArgsSchema,
    RegionSchema,
    RegionUpdateSchema,
    RoleAssignmentSchema,
    RoleRemoveArgsSchema,
    UnitSchema,
    UnitUpdateSchema,
)

blp = Blueprint("community", __name__, url_prefix="/api/v1/community", description="社区、小区、楼栋、房屋")

_DIRECTORY = "any signed-in account (names only, nothing personal)"

_CSV_BODY = {
    "requestBody": {
        "required": True,
        "description": "CSV（UTF-8 或 GBK），表头：楼栋,单元,房号,楼层,面积（面积单位 m²，最多两位小数）。"
        "也可用 multipart/form-data 的 file 字段上传。",
        "content": {
            "text/csv": {"schema": {"type": "string"}, "example": importer.TEMPLATE},
            "multipart/form-data": {
                "schema": {"type": "object", "properties": {"file": {"type": "string", "format": "binary"}}}
            },
        },
    }
}


# --- regions -------------------------------------------------------------------------------------------------------


@blp.route("/regions")
class Regions(MethodView):
    @blp.arguments(RegionListArgsSchema, location="query")
    @blp.response(200, RegionSchema(many=True))
    @scoped(also=_DIRECTORY)
    def get(self, args):
        """List districts, or the children of a region"""
        return services.list_regions(parent_public_id=args["parent"], kind=args["kind"])

    @blp.arguments(RegionSchema)
    @blp.response(201, RegionSchema)
    @scoped("community.manage", also="a district needs a platform admin")
    def post(self, data):
        """Create a district, street or community

        A street goes under a district and a community under a street (`parent_id`); the caller manages the parent.
        """
        return services.create_region(
            current_user(), kind=data["kind"], name=data["name"], parent_public_id=data["parent_id"], code=data["code"]
        )


@blp.route("/regions/<string:region_id>")
class RegionById(MethodView):
    @blp.response(200, RegionSchema)
    @scoped(also=_DIRECTORY)
    def get(self, region_id):
        """A region"""
        return services.get_region(region_id)

    @blp.arguments(RegionUpdateSchema)
    @blp.response(200, RegionSchema)
    @scoped("community.manage")
    def patch(self, data, region_id):
        """Rename a region (staff of the region above it; a district: platform admins)"""
        return services.update_region(current_user(), region_id, data)

    @blp.response(204)
    @scoped("community.manage")
    def delete(self, region_id):
        """Delete an empty region (409 `has_children` otherwise; staff of the region above it, as for creating)"""
        services.delete_region(current_user(), region_id)


@blp.route("/regions/<string:region_id>/estates")
class RegionEstates(MethodView):
    @blp.response(200, EstateSchema(many=True))
    @scoped(also=_DIRECTORY)
    def get(self, region_id):
        """Estates and courtyards of a community"""
        return services.list_estates(region_id)

    @blp.arguments(EstateSchema)
    @blp.response(201, EstateSchema)
    @scoped("community.manage")
    def post(self, data, region_id):
        """Add an estate (小区) or courtyard (院落) to a community"""
        return services.create_estate(current_user(), region_id, data)


@blp.route("/regions/<string:region_id>/roles")
class RegionRoles(MethodView):
    @blp.response(200, RoleAssignmentSchema(many=True))
    @scoped("community.read")
    def get(self, region_id):
        """Who holds which role over a region"""
        return roles.list_roles(current_user(), region_id)

    @blp.arguments(RoleAssignmentSchema)
    @blp.response(201, RoleAssignmentSchema)
    @scoped("roles.manage")
    def post(self, data, region_id):
        """Give an account a role over a region's subtree"""
        return roles.assign_role(current_user(), region_id, data["user_id"], data["role"])

    @blp.arguments(RoleRemoveArgsSchema, location="query")
    @blp.response(204)
    @scoped("roles.manage")
    def delete(self, args, region_id):
        """Take a role away"""
        roles.remove_role(current_user(), region_id, args["user_id"], args["role"])


# --- estates, buildings, units -------------------------------------------------------------------------------------


@blp.route("/estates/<string:estate_id>")
class EstateById(MethodView):
    @blp.response(200, EstateSchema)
    @scoped(also=_DIRECTORY)
    def get(self, estate_id):
        """An estate or courtyard"""
        return services.get_estate(estate_id)

    @blp.arguments(EstateUpdateSchema)
    @blp.response(200, EstateSchema)
    @scoped("community.manage")
    def patch(self, data, estate_id):
        """Edit an estate"""
        return services.update_estate(current_user(), estate_id, data)

    @blp.response(204)
    @scoped("community.manage")
    def delete(self, estate_id):
        """Delete an estate without buildings"""
        services.delete_estate(current_user(), estate_id)


@blp.route("/estates/<string:estate_id>/buildings")
class EstateBuildings(MethodView):
    @blp.response(200, BuildingSchema(many=True))
    @scoped(also=_DIRECTORY)
    def get(self, estate_id):
        """Buildings of an estate"""
        return services.list_buildings(estate_id)

    @blp.arguments(BuildingSchema)
    @blp.response(201, BuildingSchema)
    @scoped("community.manage")
    def post(self, data, estate_id):
        """Add a building"""
        return services.create_building(current_user(), estate_id, data)


@blp.route("/estates/<string:estate_id>/import")
class EstateImport(MethodView):
    @blp.doc(**_CSV_BODY)
    @blp.response(201, ImportResultSchema)
    @blp.alt_response(422, description="Row errors (`details.errors`: row, column, message); nothing was imported")
    @scoped("community.manage")
    def post(self, estate_id):
        """Import buildings, units and households from CSV (all rows or none)"""
        importer.check_access(current_user(), estate_id)
        upload = request.files.get("file")
        if upload is not None:
            data = upload.read()
        elif request.mimetype in ("text/csv", "text/plain", "application/csv"):
            data = request.get_data()
        else:
            raise ImportFailed("请上传 CSV 文件（text/csv 或 multipart 的 file 字段）", details={"errors": []})
        return importer.import_households(current_user(), estate_id, data)


@blp.route("/buildings/<string:building_id>")
class BuildingById(MethodView):
    @blp.response(200, BuildingSchema)
    @scoped(also=_DIRECTORY)
    def get(self, building_id):
        """A building"""
        return services.get_building(building_id)

    @blp.arguments(BuildingUpdateSchema)
    @blp.response(200, BuildingSchema)
    @scoped("community.manage")
    def patch(self, data, building_id):
        """Edit a building"""
        return services.update_building(current_user(), building_id, data)

    @blp.response(204)
    @scoped("community.manage")
    def delete(self, building_id):
        """Delete a building without units or households"""
        services.delete_building(current_user(), building_id)


@blp.route("/buildings/<string:building_id>/units")
class BuildingUnits(MethodView):
    @blp.response(200, UnitSchema(many=True))
    @scoped(also=_DIRECTORY)
    def get(self, building_id):
        """Units of a building"""
        return services.list_units(building_id)

    @blp.arguments(UnitSchema)
    @blp.response(201, UnitSchema)
    @scoped("community.manage")
    def post(self, data, building_id):
        """Add a unit"""
        return services.create_unit(current_user(), building_id, data)


@blp.route("/units/<string:unit_id>")
class UnitById(MethodView):
    @blp.response(200, UnitSchema)
    @scoped(also=_DIRECTORY)
    def get(self, unit_id):
        """A unit"""
        return services.get_unit(unit_id)

    @blp.arguments(UnitUpdateSchema)
    @blp.response(200, UnitSchema)
    @scoped("community.manage")
    def patch(self, data, unit_id):
        """Rename a unit"""
        return services.update_unit(current_user(), unit_id, data)

    @blp.response(204)
    @scoped("community.manage")
    def delete(self, unit_id):
        """Delete a unit without households"""
        services.delete_unit(current_user(), unit_id)


# --- households ----------------------------------------------------------------------------------------------------


@blp.route("/buildings/<string:building_id>/households")
class BuildingHouseholds(MethodView):
    @blp.arguments(HouseholdListArgsSchema, location="query")
    @blp.response(200, HouseholdBriefPageSchema)
    @scoped(also=_DIRECTORY)
    def get(self, args, building_id):
        """Rooms of a building (to choose one's home), in natural order, by cursor"""
        return services.list_households(
            building_id, unit_public_id=args["unit"], cursor=args["cursor"], limit=args["limit"]
        )

    @blp.arguments(HouseholdCreateSchema)
    @blp.response(201, HouseholdBriefSchema)
    @scoped("community.manage")
    def post(self, data, building_id):
        """Add a household (room)"""
        return services.create_household(current_user(), building_id, data)


@blp.route("/households/<string:household_id>")
class HouseholdById(MethodView):
    @blp.response(200, HouseholdSchema)
    @scoped("community.read", also="an active member of the household")
    def get(self, household_id):
        """A household with its members

        Active members see co-members with masked names; the head also sees join requests; staff in scope see
        everything. Anyone else, including a resident whose request is still pending, gets 404.
        """
        return memberships.household_view(current_user(), household_id)

    @blp.arguments(HouseholdUpdateSchema)
    @blp.response(200, HouseholdBriefSchema)
    @scoped("community.manage")
    def patch(self, data, household_id):
        """Edit a household (room, floor, floor area)"""
        return services.update_household(current_user(), household_id, data)

    @blp.response(204)
    @scoped("community.manage")
    def delete(self, household_id):
        """Delete a household entered by mistake (409 once anyone has been a member)"""
        services.delete_household(current_user(), household_id)


@blp.route("/households/<string:household_id>/join")
class HouseholdJoin(MethodView):
    @blp.arguments(JoinRequestSchema)
    @blp.response(201, MembershipSchema)
    @require()
    def post(self, data, household_id):
        """Ask to join a household

        The head of household or staff approve (staff only for `head`); until then the household stays hidden.
        """
        membership = memberships.request_join(current_user(), household_id, role=data["role"], note=data["note"])
        return memberships.membership_view(membership)


@blp.route("/households/<string:household_id>/memberships")
class HouseholdMemberships(MethodView):
    @blp.arguments(MembershipListArgsSchema, location="query")
    @blp.response(200, MemberSchema(many=True))
    @scoped("community.read", also="an active member (the head also sees pending requests)")
    def get(self, args, household_id):
        """Members of a household; staff may add ended and rejected ones with `history=true`"""
        user = current_user()
        rows = memberships.list_memberships(user, household_id, include_history=args["history"])
        _household, view = memberships.household_for(user, household_id)
        return memberships.member_rows(rows, staff=view == "staff")

    @blp.arguments(MemberAddSchema)
    @blp.response(201, MembershipSchema)
    @scoped("membership.decide")
    def post(self, data, household_id):
        """Add a resident to a household directly (staff, after checking in person)"""
        membership = memberships.staff_add_member(
            current_user(), household_id, data["resident_id"], role=data["role"], starts_on=data["starts_on"]
        )
        return memberships.membership_view(membership)
