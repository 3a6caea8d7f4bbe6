"""Add the community tree, residents with encrypted documents, tags, consents, household memberships and delegations

Revision ID: 89700ba83367
Revises: 740c0df66682
Create Date: 2026-11-23 12:41:00.000000

"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

# revision identifiers, used by Alembic.
revision = '89700ba83367'
down_revision = '740c0df66682'
branch_labels = None
depends_on = None

#: Built-in tags (code, name, sensitive); custom tags are added by staff per community or district.
BUILTIN_TAGS = [
    ("dibao", "低保", True),
    ("low_income", "低收入", True),
    ("tekun", "特困", True),
    ("disabled", "残疾", True),
    ("retired", "离退休", False),
    ("living_alone", "独居", False),
    ("youfu", "优抚", True),
    ("party_member", "党员", False),
]


def upgrade():
    op.create_table('community_regions',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('public_id', sa.String(length=24), nullable=False),
    sa.Column('kind', sa.Enum('district', 'street', 'community', name='regionkind', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('parent_id', sa.BigInteger(), nullable=True),
    sa.Column('parent_kind', sa.String(length=32), nullable=True),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('code', sa.String(length=12), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("(kind = 'district' AND parent_id IS NULL AND parent_kind IS NULL) OR (kind = 'street' AND parent_kind = 'district') OR (kind = 'community' AND parent_kind = 'street')", name=op.f('ck_community_regions_parent_matches_kind')),
    sa.ForeignKeyConstraint(['parent_id', 'parent_kind'], ['community_regions.id', 'community_regions.kind'], name='fk_community_regions_parent_id_community_regions', ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_community_regions')),
    sa.UniqueConstraint('code', name=op.f('uq_community_regions_code')),
    sa.UniqueConstraint('id', 'kind', name='uq_community_regions_id_kind'),
    sa.UniqueConstraint('parent_id', 'name', name=op.f('uq_community_regions_parent_id_name'), postgresql_nulls_not_distinct=True),
    sa.UniqueConstraint('public_id', name=op.f('uq_community_regions_public_id'))
    )
    op.create_index(op.f('ix_community_regions_parent_id'), 'community_regions', ['parent_id'], unique=False)
    op.create_table('accounts_residents',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('public_id', sa.String(length=24), nullable=False),
    sa.Column('user_id', sa.BigInteger(), nullable=True),
    sa.Column('real_name', sa.String(length=64), nullable=False),
    sa.Column('document_type', sa.Enum('resident_id_card', 'hmt_residence_permit', 'foreign_permanent_residence', 'passport', name='documenttype', native_enum=False, create_constraint=True, length=32), nullable=True),
    sa.Column('document_country', sa.String(length=3), nullable=True),
    sa.Column('document_ciphertext', sa.LargeBinary(), nullable=True),
    sa.Column('document_lookup', sa.LargeBinary(), nullable=True),
    sa.Column('document_masked', sa.String(length=32), nullable=True),
    sa.Column('gender', sa.Enum('male', 'female', name='gender', native_enum=False, create_constraint=True, length=32), nullable=True),
    sa.Column('birth_date', sa.Date(), nullable=True),
    sa.Column('hukou_status', sa.Enum('local', 'non_local', name='hukoustatus', native_enum=False, create_constraint=True, length=32), nullable=True),
    sa.Column('verification_status', sa.Enum('unverified', 'pending', 'verified', 'rejected', name='verificationstatus', native_enum=False, create_constraint=True, length=32), server_default='unverified', nullable=False),
    sa.Column('verification_note', sa.String(length=200), nullable=True),
    sa.Column('verified_by_user_id', sa.BigInteger(), nullable=True),
    sa.Column('verified_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('registered_community_id', sa.BigInteger(), nullable=True),
    sa.Column('registered_by_user_id', sa.BigInteger(), nullable=True),
    sa.Column('health_notes_ciphertext', sa.LargeBinary(), nullable=True),
    sa.Column('erased_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("verification_status <> 'verified' OR (verified_at IS NOT NULL)", name=op.f('ck_accounts_residents_verified_has_time')),
    sa.CheckConstraint('(document_type IS NULL) = (document_ciphertext IS NULL) AND (document_type IS NULL) = (document_lookup IS NULL) AND (document_type IS NULL) = (document_masked IS NULL)', name=op.f('ck_accounts_residents_document_complete')),
    sa.ForeignKeyConstraint(['registered_by_user_id'], ['accounts_users.id'], name=op.f('fk_accounts_residents_registered_by_user_id_accounts_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['registered_community_id'], ['community_regions.id'], name=op.f('fk_accounts_residents_registered_community_id_community_regions'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['user_id'], ['accounts_users.id'], name=op.f('fk_accounts_residents_user_id_accounts_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['verified_by_user_id'], ['accounts_users.id'], name=op.f('fk_accounts_residents_verified_by_user_id_accounts_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_accounts_residents')),
    sa.UniqueConstraint('document_type', 'document_lookup', name=op.f('uq_accounts_residents_document_type_document_lookup')),
    sa.UniqueConstraint('public_id', name=op.f('uq_accounts_residents_public_id')),
    sa.UniqueConstraint('user_id', name=op.f('uq_accounts_residents_user_id'))
    )
    op.create_index(op.f('ix_accounts_residents_registered_community_id'), 'accounts_residents', ['registered_community_id'], unique=False)
    op.create_table('accounts_tags',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('public_id', sa.String(length=24), nullable=False),
    sa.Column('code', sa.String(length=32), nullable=True),
    sa.Column('name', sa.String(length=32), nullable=False),
    sa.Column('sensitive', sa.Boolean(), server_default=sa.false(), nullable=False),
    sa.Column('region_id', sa.BigInteger(), nullable=True),
    sa.Column('created_by_user_id', sa.BigInteger(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['created_by_user_id'], ['accounts_users.id'], name=op.f('fk_accounts_tags_created_by_user_id_accounts_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['region_id'], ['community_regions.id'], name=op.f('fk_accounts_tags_region_id_community_regions'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_accounts_tags')),
    sa.UniqueConstraint('code', name=op.f('uq_accounts_tags_code')),
    sa.UniqueConstraint('public_id', name=op.f('uq_accounts_tags_public_id')),
    sa.UniqueConstraint('region_id', 'name', name=op.f('uq_accounts_tags_region_id_name'), postgresql_nulls_not_distinct=True)
    )
    op.create_table('community_estates',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('public_id', sa.String(length=24), nullable=False),
    sa.Column('community_id', sa.BigInteger(), nullable=False),
    sa.Column('kind', sa.Enum('estate', 'courtyard', name='estatekind', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('address', sa.String(length=200), server_default='', nullable=False),
    sa.Column('latitude', sa.Numeric(precision=9, scale=6), nullable=True),
    sa.Column('longitude', sa.Numeric(precision=9, scale=6), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint('(latitude IS NULL) = (longitude IS NULL)', name=op.f('ck_community_estates_coordinates_complete')),
    sa.CheckConstraint('latitude BETWEEN -90 AND 90 AND longitude BETWEEN -180 AND 180', name=op.f('ck_community_estates_coordinates_range')),
    sa.ForeignKeyConstraint(['community_id'], ['community_regions.id'], name=op.f('fk_community_estates_community_id_community_regions'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_community_estates')),
    sa.UniqueConstraint('community_id', 'name', name=op.f('uq_community_estates_community_id_name')),
    sa.UniqueConstraint('id', 'community_id', name='uq_community_estates_id_community_id'),
    sa.UniqueConstraint('public_id', name=op.f('uq_community_estates_public_id'))
    )
    op.create_index(op.f('ix_community_estates_community_id'), 'community_estates', ['community_id'], unique=False)
    op.create_table('accounts_consents',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('user_id', sa.BigInteger(), nullable=True),
    sa.Column('resident_id', sa.BigInteger(), nullable=True),
    sa.Column('kind', sa.Enum('privacy_policy', 'sensitive_data', name='consentkind', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('policy_version', sa.String(length=32), nullable=False),
    sa.Column('accepted_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('withdrawn_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('recorded_by_user_id', sa.BigInteger(), nullable=True),
    sa.CheckConstraint('user_id IS NOT NULL OR resident_id IS NOT NULL', name=op.f('ck_accounts_consents_has_subject')),
    sa.ForeignKeyConstraint(['recorded_by_user_id'], ['accounts_users.id'], name=op.f('fk_accounts_consents_recorded_by_user_id_accounts_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['resident_id'], ['accounts_residents.id'], name=op.f('fk_accounts_consents_resident_id_accounts_residents'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['accounts_users.id'], name=op.f('fk_accounts_consents_user_id_accounts_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_accounts_consents'))
    )
    op.create_index('ix_accounts_consents_resident_kind', 'accounts_consents', ['resident_id', 'kind'], unique=False)
    op.create_index('ix_accounts_consents_user_kind', 'accounts_consents', ['user_id', 'kind'], unique=False)
    op.create_table('accounts_delegations',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('public_id', sa.String(length=24), nullable=False),
    sa.Column('actor_resident_id', sa.BigInteger(), nullable=False),
    sa.Column('subject_resident_id', sa.BigInteger(), nullable=False),
    sa.Column('relationship', sa.Enum('child', 'spouse', 'relative', 'guardian', 'neighbour', name='relationship', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('scopes', postgresql.ARRAY(sa.String(length=32)), nullable=False),
    sa.Column('status', sa.Enum('pending', 'active', 'rejected', 'revoked', name='delegationstatus', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('requested_by_user_id', sa.BigInteger(), nullable=True),
    sa.Column('decided_by_user_id', sa.BigInteger(), nullable=True),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('approved_via', sa.String(length=16), nullable=True),
    sa.Column('staff_note', sa.String(length=200), nullable=True),
    sa.Column('revoked_by_user_id', sa.BigInteger(), nullable=True),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("scopes <@ ARRAY['appointments', 'applications', 'eldercare', 'marketplace', 'bills', 'notices', 'activities']::varchar[]", name=op.f('ck_accounts_delegations_scopes_known')),
    sa.CheckConstraint('actor_resident_id <> subject_resident_id', name=op.f('ck_accounts_delegations_not_self')),
    sa.CheckConstraint('cardinality(scopes) > 0', name=op.f('ck_accounts_delegations_scopes_not_empty')),
    sa.ForeignKeyConstraint(['actor_resident_id'], ['accounts_residents.id'], name=op.f('fk_accounts_delegations_actor_resident_id_accounts_residents'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['decided_by_user_id'], ['accounts_users.id'], name=op.f('fk_accounts_delegations_decided_by_user_id_accounts_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['requested_by_user_id'], ['accounts_users.id'], name=op.f('fk_accounts_delegations_requested_by_user_id_accounts_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['revoked_by_user_id'], ['accounts_users.id'], name=op.f('fk_accounts_delegations_revoked_by_user_id_accounts_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['subject_resident_id'], ['accounts_residents.id'], name=op.f('fk_accounts_delegations_subject_resident_id_accounts_residents'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_accounts_delegations')),
    sa.UniqueConstraint('public_id', name=op.f('uq_accounts_delegations_public_id'))
    )
    op.create_index(op.f('ix_accounts_delegations_actor_resident_id'), 'accounts_delegations', ['actor_resident_id'], unique=False)
    op.create_index(op.f('ix_accounts_delegations_subject_resident_id'), 'accounts_delegations', ['subject_resident_id'], unique=False)
    op.create_index('uq_accounts_delegations_open', 'accounts_delegations', ['actor_resident_id', 'subject_resident_id'], unique=True, postgresql_where=sa.text("status IN ('pending', 'active')"))
    op.create_table('accounts_resident_tags',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('resident_id', sa.BigInteger(), nullable=False),
    sa.Column('tag_id', sa.BigInteger(), nullable=False),
    sa.Column('region_id', sa.BigInteger(), nullable=False),
    sa.Column('assigned_by_user_id', sa.BigInteger(), nullable=True),
    sa.Column('reason', sa.String(length=200), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['assigned_by_user_id'], ['accounts_users.id'], name=op.f('fk_accounts_resident_tags_assigned_by_user_id_accounts_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['region_id'], ['community_regions.id'], name=op.f('fk_accounts_resident_tags_region_id_community_regions'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['resident_id'], ['accounts_residents.id'], name=op.f('fk_accounts_resident_tags_resident_id_accounts_residents'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tag_id'], ['accounts_tags.id'], name=op.f('fk_accounts_resident_tags_tag_id_accounts_tags'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_accounts_resident_tags')),
    sa.UniqueConstraint('resident_id', 'tag_id', name=op.f('uq_accounts_resident_tags_resident_id_tag_id'))
    )
    op.create_index(op.f('ix_accounts_resident_tags_resident_id'), 'accounts_resident_tags', ['resident_id'], unique=False)
    op.create_index(op.f('ix_accounts_resident_tags_tag_id'), 'accounts_resident_tags', ['tag_id'], unique=False)
    op.create_table('community_buildings',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('public_id', sa.String(length=24), nullable=False),
    sa.Column('estate_id', sa.BigInteger(), nullable=False),
    sa.Column('community_id', sa.BigInteger(), nullable=False),
    sa.Column('name', sa.String(length=32), nullable=False),
    sa.Column('floors', sa.SmallInteger(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint('floors IS NULL OR floors BETWEEN 1 AND 200', name=op.f('ck_community_buildings_floors_range')),
    sa.ForeignKeyConstraint(['estate_id', 'community_id'], ['community_estates.id', 'community_estates.community_id'], name='fk_community_buildings_estate_id_community_estates', ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_community_buildings')),
    sa.UniqueConstraint('estate_id', 'name', name=op.f('uq_community_buildings_estate_id_name')),
    sa.UniqueConstraint('id', 'community_id', name='uq_community_buildings_id_community_id'),
    sa.UniqueConstraint('public_id', name=op.f('uq_community_buildings_public_id'))
    )
    op.create_index(op.f('ix_community_buildings_community_id'), 'community_buildings', ['community_id'], unique=False)
    op.create_index(op.f('ix_community_buildings_estate_id'), 'community_buildings', ['estate_id'], unique=False)
    op.create_table('community_units',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('public_id', sa.String(length=24), nullable=False),
    sa.Column('building_id', sa.BigInteger(), nullable=False),
    sa.Column('name', sa.String(length=32), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['building_id'], ['community_buildings.id'], name=op.f('fk_community_units_building_id_community_buildings'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_community_units')),
    sa.UniqueConstraint('building_id', 'name', name=op.f('uq_community_units_building_id_name')),
    sa.UniqueConstraint('id', 'building_id', name='uq_community_units_id_building_id'),
    sa.UniqueConstraint('public_id', name=op.f('uq_community_units_public_id'))
    )
    op.create_index(op.f('ix_community_units_building_id'), 'community_units', ['building_id'], unique=False)
    op.create_table('community_households',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('public_id', sa.String(length=24), nullable=False),
    sa.Column('building_id', sa.BigInteger(), nullable=False),
    sa.Column('unit_id', sa.BigInteger(), nullable=True),
    sa.Column('community_id', sa.BigInteger(), nullable=False),
    sa.Column('room', sa.String(length=32), nullable=False),
    sa.Column('floor', sa.SmallInteger(), nullable=True),
    sa.Column('floor_area_dm2', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint('floor IS NULL OR floor BETWEEN -10 AND 200', name=op.f('ck_community_households_floor_range')),
    sa.CheckConstraint('floor_area_dm2 IS NULL OR floor_area_dm2 > 0', name=op.f('ck_community_households_floor_area_positive')),
    sa.ForeignKeyConstraint(['building_id', 'community_id'], ['community_buildings.id', 'community_buildings.community_id'], name='fk_community_households_building_id_community_buildings', ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['unit_id', 'building_id'], ['community_units.id', 'community_units.building_id'], name='fk_community_households_unit_id_community_units', ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_community_households')),
    sa.UniqueConstraint('building_id', 'unit_id', 'room', name=op.f('uq_community_households_building_id_unit_id_room'), postgresql_nulls_not_distinct=True),
    sa.UniqueConstraint('public_id', name=op.f('uq_community_households_public_id'))
    )
    op.create_index(op.f('ix_community_households_building_id'), 'community_households', ['building_id'], unique=False)
    op.create_index(op.f('ix_community_households_community_id'), 'community_households', ['community_id'], unique=False)
    op.create_index(op.f('ix_community_households_unit_id'), 'community_households', ['unit_id'], unique=False)
    op.create_table('accounts_household_memberships',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('public_id', sa.String(length=24), nullable=False),
    sa.Column('household_id', sa.BigInteger(), nullable=False),
    sa.Column('resident_id', sa.BigInteger(), nullable=False),
    sa.Column('role', sa.Enum('head', 'family', 'tenant', name='membershiprole', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('status', sa.Enum('pending', 'active', 'rejected', 'cancelled', 'ended', name='membershipstatus', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('starts_on', sa.Date(), nullable=True),
    sa.Column('ends_on', sa.Date(), nullable=True),
    sa.Column('requested_by_user_id', sa.BigInteger(), nullable=True),
    sa.Column('decided_by_user_id', sa.BigInteger(), nullable=True),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('decision_note', sa.String(length=200), nullable=True),
    sa.Column('ended_by_user_id', sa.BigInteger(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("status <> 'active' OR starts_on IS NOT NULL", name=op.f('ck_accounts_household_memberships_active_has_start')),
    sa.CheckConstraint("status <> 'ended' OR ends_on IS NOT NULL", name=op.f('ck_accounts_household_memberships_ended_has_date')),
    sa.CheckConstraint('ends_on IS NULL OR starts_on IS NULL OR ends_on >= starts_on', name=op.f('ck_accounts_household_memberships_dates_ordered')),
    sa.ForeignKeyConstraint(['decided_by_user_id'], ['accounts_users.id'], name=op.f('fk_accounts_household_memberships_decided_by_user_id_accounts_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['ended_by_user_id'], ['accounts_users.id'], name=op.f('fk_accounts_household_memberships_ended_by_user_id_accounts_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['household_id'], ['community_households.id'], name=op.f('fk_accounts_household_memberships_household_id_community_households'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['requested_by_user_id'], ['accounts_users.id'], name=op.f('fk_accounts_household_memberships_requested_by_user_id_accounts_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['resident_id'], ['accounts_residents.id'], name=op.f('fk_accounts_household_memberships_resident_id_accounts_residents'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_accounts_household_memberships')),
    sa.UniqueConstraint('public_id', name=op.f('uq_accounts_household_memberships_public_id'))
    )
    op.create_index(op.f('ix_accounts_household_memberships_household_id'), 'accounts_household_memberships', ['household_id'], unique=False)
    op.create_index(op.f('ix_accounts_household_memberships_resident_id'), 'accounts_household_memberships', ['resident_id'], unique=False)
    op.create_index('uq_accounts_household_memberships_one_head', 'accounts_household_memberships', ['household_id'], unique=True, postgresql_where=sa.text("status = 'active' AND role = 'head'"))
    op.create_index('uq_accounts_household_memberships_open', 'accounts_household_memberships', ['household_id', 'resident_id'], unique=True, postgresql_where=sa.text("status IN ('pending', 'active')"))

    tags = sa.table(
        'accounts_tags',
        sa.column('public_id', sa.String),
        sa.column('code', sa.String),
        sa.column('name', sa.String),
        sa.column('sensitive', sa.Boolean),
    )
    op.bulk_insert(
        tags,
        [
            {'public_id': f'tag-{code}', 'code': code, 'name': name, 'sensitive': sensitive}
            for code, name, sensitive in BUILTIN_TAGS
        ],
    )


def downgrade():
    op.drop_table('accounts_household_memberships')
    op.drop_table('community_households')
    op.drop_table('community_units')
    op.drop_table('community_buildings')
    op.drop_table('accounts_resident_tags')
    op.drop_table('accounts_delegations')
    op.drop_table('accounts_consents')
    op.drop_table('community_estates')
    op.drop_table('accounts_tags')
    op.drop_table('accounts_residents')
    op.drop_table('community_regions')
