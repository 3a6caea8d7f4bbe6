"""Add govservice departments and online applications (办件) with routing, steps, materials and ratings

Revision ID: 7cde63d77f85
Revises: 7b3e5d9a1c42
Create Date: 2026-12-03 07:45:00.000000

"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

# revision identifiers, used by Alembic.
revision = '7cde63d77f85'
down_revision = '7b3e5d9a1c42'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('govservice_departments',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('public_id', sa.String(length=24), nullable=False),
    sa.Column('region_id', sa.BigInteger(), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('code', sa.String(length=32), nullable=False, comment='部门编码, unique within the region'),
    sa.Column('phone', sa.String(length=32), server_default='', nullable=False),
    sa.Column('is_active', sa.Boolean(), server_default=sa.text('true'), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("char_length(btrim(name)) > 0", name=op.f('ck_govservice_departments_name_not_empty')),
    sa.CheckConstraint("code ~ '^[A-Za-z0-9_-]{1,32}$'", name=op.f('ck_govservice_departments_code_format')),
    sa.ForeignKeyConstraint(['region_id'], ['community_regions.id'], name=op.f('fk_govservice_departments_region_id_community_regions'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_govservice_departments')),
    sa.UniqueConstraint('public_id', name=op.f('uq_govservice_departments_public_id')),
    sa.UniqueConstraint('region_id', 'code', name=op.f('uq_govservice_departments_region_id_code')),
    sa.UniqueConstraint('region_id', 'name', name=op.f('uq_govservice_departments_region_id_name'))
    )
    with op.batch_alter_table('govservice_departments', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_govservice_departments_region_id'), ['region_id'], unique=False)

    op.create_table('govservice_item_routings',
    sa.Column('item_id', sa.BigInteger(), nullable=False),
    sa.Column('mode', sa.Enum('parallel', 'serial', name='routingmode', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('updated_by_user_id', sa.BigInteger(), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['item_id'], ['govservice_guide_items.id'], name=op.f('fk_govservice_item_routings_item_id_govservice_guide_items'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['updated_by_user_id'], ['accounts_users.id'], name=op.f('fk_govservice_item_routings_updated_by_user_id_accounts_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('item_id', name=op.f('pk_govservice_item_routings'))
    )
    op.create_table('govservice_item_routing_departments',
    sa.Column('item_id', sa.BigInteger(), nullable=False),
    sa.Column('position', sa.SmallInteger(), nullable=False),
    sa.Column('department_id', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['department_id'], ['govservice_departments.id'], name=op.f('fk_govservice_item_routing_departments_department_id_govservice_departments'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['item_id'], ['govservice_item_routings.item_id'], name=op.f('fk_govservice_item_routing_departments_item_id_govservice_item_routings'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('item_id', 'position', name=op.f('pk_govservice_item_routing_departments')),
    sa.UniqueConstraint('item_id', 'department_id', name=op.f('uq_govservice_item_routing_departments_item_id_department_id'))
    )
    with op.batch_alter_table('govservice_item_routing_departments', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_govservice_item_routing_departments_department_id'), ['department_id'], unique=False)

    op.create_table('govservice_applications',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('public_id', sa.String(length=24), nullable=False),
    sa.Column('centre_id', sa.BigInteger(), nullable=False),
    sa.Column('region_id', sa.BigInteger(), nullable=False),
    sa.Column('item_id', sa.BigInteger(), nullable=False),
    sa.Column('version_id', sa.BigInteger(), nullable=False),
    sa.Column('resident_id', sa.BigInteger(), nullable=False),
    sa.Column('submitted_by_user_id', sa.BigInteger(), nullable=True),
    sa.Column('via', sa.Enum('own', 'delegate', name='via', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('status', sa.Enum('pending_review', 'returned', 'awaiting_acceptance', 'rejected', 'accepted', 'correction', 'processing', 'special', 'completed', 'withdrawn', name='applicationstatus', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('form', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'::jsonb"), nullable=False),
    sa.Column('promised_days', sa.SmallInteger(), nullable=False, comment='承诺期限 (working days), from the version'),
    sa.Column('routing_mode', sa.Enum('parallel', 'serial', name='routingmode', native_enum=False, create_constraint=True, length=32), nullable=True),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('correction_materials', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'[]'::jsonb"), nullable=False),
    sa.Column('resume_status', sa.String(length=32), nullable=True),
    sa.Column('outcome', sa.Enum('approved', 'denied', name='outcome', native_enum=False, create_constraint=True, length=32), nullable=True),
    sa.Column('result', sa.Text(), nullable=True, comment='办理结果, shown to the resident'),
    sa.Column('submitted_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('accepted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('accepted_on', sa.Date(), nullable=True, comment='受理日 (Asia/Shanghai)'),
    sa.Column('due_on', sa.Date(), nullable=True, comment='Last working day of the promised term; NULL while paused'),
    sa.Column('paused_since', sa.Date(), nullable=True),
    sa.Column('paused_workdays', sa.SmallInteger(), server_default='0', nullable=False),
    sa.Column('completed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('elapsed_workdays', sa.SmallInteger(), nullable=True),
    sa.Column('on_time', sa.Boolean(), nullable=True),
    sa.Column('ended_at', sa.DateTime(timezone=True), nullable=True, comment='When it closed (退回、不予受理、办结、撤回)'),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("(status IN ('accepted', 'correction', 'processing', 'special', 'completed')) = (accepted_on IS NOT NULL)", name=op.f('ck_govservice_applications_accepted_has_day')),
    sa.CheckConstraint("(status IN ('correction', 'special')) = (paused_since IS NOT NULL)", name=op.f('ck_govservice_applications_paused_has_day')),
    sa.CheckConstraint("(status = 'completed') = (outcome IS NOT NULL AND completed_at IS NOT NULL)", name=op.f('ck_govservice_applications_completed_has_outcome')),
    sa.CheckConstraint("(status IN ('returned', 'rejected', 'completed', 'withdrawn')) = (ended_at IS NOT NULL)", name=op.f('ck_govservice_applications_closed_has_time')),
    sa.CheckConstraint('paused_workdays >= 0', name=op.f('ck_govservice_applications_paused_workdays_not_negative')),
    sa.CheckConstraint('promised_days BETWEEN 0 AND 365', name=op.f('ck_govservice_applications_promised_days_range')),
    sa.ForeignKeyConstraint(['centre_id'], ['govservice_centres.id'], name=op.f('fk_govservice_applications_centre_id_govservice_centres'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['item_id'], ['govservice_guide_items.id'], name=op.f('fk_govservice_applications_item_id_govservice_guide_items'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['region_id'], ['community_regions.id'], name=op.f('fk_govservice_applications_region_id_community_regions'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['resident_id'], ['accounts_residents.id'], name=op.f('fk_govservice_applications_resident_id_accounts_residents'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['submitted_by_user_id'], ['accounts_users.id'], name=op.f('fk_govservice_applications_submitted_by_user_id_accounts_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['version_id'], ['govservice_guide_versions.id'], name=op.f('fk_govservice_applications_version_id_govservice_guide_versions'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_govservice_applications')),
    sa.UniqueConstraint('public_id', name=op.f('uq_govservice_applications_public_id'))
    )
    with op.batch_alter_table('govservice_applications', schema=None) as batch_op:
        batch_op.create_index('ix_govservice_applications_centre_id_status', ['centre_id', 'status'], unique=False)
        batch_op.create_index('ix_govservice_applications_centre_id_submitted_at', ['centre_id', 'submitted_at'], unique=False)
        batch_op.create_index('ix_govservice_applications_resident_id_submitted_at', ['resident_id', 'submitted_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_govservice_applications_item_id'), ['item_id'], unique=False)

    op.create_table('govservice_application_tasks',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('application_id', sa.BigInteger(), nullable=False),
    sa.Column('department_id', sa.BigInteger(), nullable=False),
    sa.Column('region_id', sa.BigInteger(), nullable=False),
    sa.Column('position', sa.SmallInteger(), nullable=False),
    sa.Column('status', sa.Enum('waiting', 'active', 'approved', 'denied', 'cancelled', name='taskstatus', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('result', sa.Text(), nullable=True),
    sa.Column('activated_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('decided_by_user_id', sa.BigInteger(), nullable=True),
    sa.CheckConstraint("(status IN ('approved', 'denied')) = (decided_at IS NOT NULL)", name=op.f('ck_govservice_application_tasks_decided_has_time')),
    sa.ForeignKeyConstraint(['application_id'], ['govservice_applications.id'], name=op.f('fk_govservice_application_tasks_application_id_govservice_applications'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['decided_by_user_id'], ['accounts_users.id'], name=op.f('fk_govservice_application_tasks_decided_by_user_id_accounts_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['department_id'], ['govservice_departments.id'], name=op.f('fk_govservice_application_tasks_department_id_govservice_departments'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_govservice_application_tasks')),
    sa.UniqueConstraint('application_id', 'department_id', name=op.f('uq_govservice_application_tasks_application_id_department_id')),
    sa.UniqueConstraint('application_id', 'position', name=op.f('uq_govservice_application_tasks_application_id_position'))
    )
    with op.batch_alter_table('govservice_application_tasks', schema=None) as batch_op:
        batch_op.create_index('ix_govservice_application_tasks_department_id_status', ['department_id', 'status'], unique=False)

    op.create_table('govservice_application_materials',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('application_id', sa.BigInteger(), nullable=False),
    sa.Column('code', sa.String(length=32), nullable=False, comment="The guide material's code"),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('source', sa.Enum('upload', 'profile', 'reused', name='materialsource', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('file_id', sa.BigInteger(), nullable=True),
    sa.Column('reused_from_id', sa.BigInteger(), nullable=True),
    sa.Column('profile_fact', sa.String(length=32), nullable=True),
    sa.Column('round', sa.SmallInteger(), server_default='0', nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("(source = 'upload' AND file_id IS NOT NULL AND reused_from_id IS NULL AND profile_fact IS NULL) OR (source = 'reused' AND file_id IS NOT NULL AND reused_from_id IS NOT NULL AND profile_fact IS NULL) OR (source = 'profile' AND file_id IS NULL AND reused_from_id IS NULL AND profile_fact IS NOT NULL)", name=op.f('ck_govservice_application_materials_source_matches_columns')),
    sa.CheckConstraint('round >= 0', name=op.f('ck_govservice_application_materials_round_not_negative')),
    sa.ForeignKeyConstraint(['application_id'], ['govservice_applications.id'], name=op.f('fk_govservice_application_materials_application_id_govservice_applications'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['file_id'], ['core_files.id'], name=op.f('fk_govservice_application_materials_file_id_core_files'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['reused_from_id'], ['govservice_application_materials.id'], name=op.f('fk_govservice_application_materials_reused_from_id_govservice_application_materials'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_govservice_application_materials'))
    )
    with op.batch_alter_table('govservice_application_materials', schema=None) as batch_op:
        batch_op.create_index('ix_govservice_application_materials_application_id', ['application_id'], unique=False)
        batch_op.create_index('ix_govservice_application_materials_reused_from_id', ['reused_from_id'], unique=False)

    op.create_table('govservice_application_events',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('application_id', sa.BigInteger(), nullable=False),
    sa.Column('action', sa.String(length=32), nullable=False),
    sa.Column('from_status', sa.String(length=32), nullable=True),
    sa.Column('to_status', sa.String(length=32), nullable=False),
    sa.Column('actor_user_id', sa.BigInteger(), nullable=True),
    sa.Column('department_id', sa.BigInteger(), nullable=True),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('details', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'::jsonb"), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['actor_user_id'], ['accounts_users.id'], name=op.f('fk_govservice_application_events_actor_user_id_accounts_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['application_id'], ['govservice_applications.id'], name=op.f('fk_govservice_application_events_application_id_govservice_applications'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['department_id'], ['govservice_departments.id'], name=op.f('fk_govservice_application_events_department_id_govservice_departments'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_govservice_application_events'))
    )
    with op.batch_alter_table('govservice_application_events', schema=None) as batch_op:
        batch_op.create_index('ix_govservice_application_events_application_id_id', ['application_id', 'id'], unique=False)

    op.create_table('govservice_application_ratings',
    sa.Column('application_id', sa.BigInteger(), nullable=False),
    sa.Column('score', sa.SmallInteger(), nullable=False),
    sa.Column('comment', sa.String(length=500), server_default='', nullable=False),
    sa.Column('rated_by_user_id', sa.BigInteger(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint('score BETWEEN 1 AND 5', name=op.f('ck_govservice_application_ratings_score_range')),
    sa.ForeignKeyConstraint(['application_id'], ['govservice_applications.id'], name=op.f('fk_govservice_application_ratings_application_id_govservice_applications'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['rated_by_user_id'], ['accounts_users.id'], name=op.f('fk_govservice_application_ratings_rated_by_user_id_accounts_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('application_id', name=op.f('pk_govservice_application_ratings'))
    )


def downgrade():
    op.drop_table('govservice_application_ratings')
    op.drop_table('govservice_application_events')
    op.drop_table('govservice_application_materials')
    op.drop_table('govservice_application_tasks')
    op.drop_table('govservice_applications')
    op.drop_table('govservice_item_routing_departments')
    op.drop_table('govservice_item_routings')
    with op.batch_alter_table('govservice_departments', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_govservice_departments_region_id'))

    op.drop_table('govservice_departments')
