"""Add govservice complaints and suggestions (诉求): categories with time limits, complaints with their history,
and Open311 api clients

Revision ID: 3b8e51c0d9a2
Revises: 7cde63d77f85
Create Date: 2026-12-03 08:30:00

"""
from alembic import op
import sqlalchemy as sa

# revision identifiers, used by Alembic.
revision = '3b8e51c0d9a2'
down_revision = '7cde63d77f85'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('govservice_complaint_categories',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('public_id', sa.String(length=24), nullable=False),
    sa.Column('region_id', sa.BigInteger(), nullable=False),
    sa.Column('code', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('description', sa.String(length=500), server_default='', nullable=False),
    sa.Column('group', sa.String(length=32), server_default='', nullable=False),
    sa.Column('keywords', sa.String(length=200), server_default='', nullable=False),
    sa.Column('time_limit_days', sa.SmallInteger(), server_default='5', nullable=False),
    sa.Column('active', sa.Boolean(), server_default=sa.text('true'), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("code ~ '^[a-z0-9_-]{2,32}$'", name=op.f('ck_govservice_complaint_categories_code_format')),
    sa.CheckConstraint('char_length(btrim(name)) > 0', name=op.f('ck_govservice_complaint_categories_name_not_empty')),
    sa.CheckConstraint('time_limit_days BETWEEN 1 AND 60', name=op.f('ck_govservice_complaint_categories_time_limit_range')),
    sa.ForeignKeyConstraint(['region_id'], ['community_regions.id'], name=op.f('fk_govservice_complaint_categories_region_id_community_regions'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_govservice_complaint_categories')),
    sa.UniqueConstraint('code', name=op.f('uq_govservice_complaint_categories_code')),
    sa.UniqueConstraint('public_id', name=op.f('uq_govservice_complaint_categories_public_id'))
    )
    op.create_index(op.f('ix_govservice_complaint_categories_region_id'), 'govservice_complaint_categories', ['region_id'], unique=False)
    op.create_table('govservice_open311_clients',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('public_id', sa.String(length=24), nullable=False),
    sa.Column('region_id', sa.BigInteger(), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('key_hash', sa.LargeBinary(length=32), nullable=False),
    sa.Column('created_by_user_id', sa.BigInteger(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['created_by_user_id'], ['accounts_users.id'], name=op.f('fk_govservice_open311_clients_created_by_user_id_accounts_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['region_id'], ['community_regions.id'], name=op.f('fk_govservice_open311_clients_region_id_community_regions'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_govservice_open311_clients')),
    sa.UniqueConstraint('key_hash', name=op.f('uq_govservice_open311_clients_key_hash')),
    sa.UniqueConstraint('public_id', name=op.f('uq_govservice_open311_clients_public_id'))
    )
    op.create_index(op.f('ix_govservice_open311_clients_region_id'), 'govservice_open311_clients', ['region_id'], unique=False)
    op.create_table('govservice_complaints',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('public_id', sa.String(length=24), nullable=False),
    sa.Column('community_id', sa.BigInteger(), nullable=False),
    sa.Column('category_id', sa.BigInteger(), nullable=False),
    sa.Column('kind', sa.Enum('complaint', 'suggestion', 'request', name='complaintkind', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('source', sa.Enum('app', 'open311', name='complaintsource', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('resident_id', sa.BigInteger(), nullable=True),
    sa.Column('submitted_by_user_id', sa.BigInteger(), nullable=True),
    sa.Column('client_id', sa.BigInteger(), nullable=True),
    sa.Column('contact_ciphertext', sa.LargeBinary(), nullable=True),
    sa.Column('description', sa.String(length=2000), nullable=False),
    sa.Column('location', sa.String(length=200), nullable=True),
    sa.Column('latitude', sa.Numeric(precision=9, scale=6, asdecimal=False), nullable=True),
    sa.Column('longitude', sa.Numeric(precision=9, scale=6, asdecimal=False), nullable=True),
    sa.Column('status', sa.Enum('submitted', 'rejected', 'accepted', 'dispatched', 'replied', 'resolved', name='complaintstatus', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('reject_reason', sa.String(length=200), nullable=True),
    sa.Column('department_id', sa.BigInteger(), nullable=True),
    sa.Column('grid_worker_user_id', sa.BigInteger(), nullable=True),
    sa.Column('reply', sa.String(length=2000), nullable=True),
    sa.Column('replied_by_user_id', sa.BigInteger(), nullable=True),
    sa.Column('due_on', sa.Date(), nullable=True),
    sa.Column('escalated_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('escalated_region_id', sa.BigInteger(), nullable=True),
    sa.Column('reopen_count', sa.SmallInteger(), server_default='0', nullable=False),
    sa.Column('rating', sa.SmallInteger(), nullable=True),
    sa.Column('rating_comment', sa.String(length=500), nullable=True),
    sa.Column('accepted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('replied_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("resident_id IS NOT NULL OR source = 'open311'", name=op.f('ck_govservice_complaints_has_author')),
    sa.CheckConstraint("status <> 'dispatched' OR department_id IS NOT NULL OR grid_worker_user_id IS NOT NULL", name=op.f('ck_govservice_complaints_dispatched_has_handler')),
    sa.CheckConstraint("status <> 'rejected' OR reject_reason IS NOT NULL", name=op.f('ck_govservice_complaints_rejected_has_reason')),
    sa.CheckConstraint("status NOT IN ('accepted', 'dispatched') OR due_on IS NOT NULL", name=op.f('ck_govservice_complaints_running_has_due')),
    sa.CheckConstraint('(latitude IS NULL) = (longitude IS NULL) AND (latitude IS NULL OR (latitude BETWEEN -90 AND 90 AND longitude BETWEEN -180 AND 180))', name=op.f('ck_govservice_complaints_coordinates')),
    sa.CheckConstraint('rating IS NULL OR rating BETWEEN 1 AND 5', name=op.f('ck_govservice_complaints_rating_range')),
    sa.CheckConstraint('reopen_count >= 0', name=op.f('ck_govservice_complaints_reopen_count_positive')),
    sa.ForeignKeyConstraint(['category_id'], ['govservice_complaint_categories.id'], name=op.f('fk_govservice_complaints_category_id_govservice_complaint_categories'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['client_id'], ['govservice_open311_clients.id'], name=op.f('fk_govservice_complaints_client_id_govservice_open311_clients'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['community_id'], ['community_regions.id'], name=op.f('fk_govservice_complaints_community_id_community_regions'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['department_id'], ['govservice_departments.id'], name=op.f('fk_govservice_complaints_department_id_govservice_departments'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['escalated_region_id'], ['community_regions.id'], name=op.f('fk_govservice_complaints_escalated_region_id_community_regions'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['grid_worker_user_id'], ['accounts_users.id'], name=op.f('fk_govservice_complaints_grid_worker_user_id_accounts_users'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['replied_by_user_id'], ['accounts_users.id'], name=op.f('fk_govservice_complaints_replied_by_user_id_accounts_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['resident_id'], ['accounts_residents.id'], name=op.f('fk_govservice_complaints_resident_id_accounts_residents'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['submitted_by_user_id'], ['accounts_users.id'], name=op.f('fk_govservice_complaints_submitted_by_user_id_accounts_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_govservice_complaints')),
    sa.UniqueConstraint('public_id', name=op.f('uq_govservice_complaints_public_id'))
    )
    op.create_index(op.f('ix_govservice_complaints_category_id'), 'govservice_complaints', ['category_id'], unique=False)
    op.create_index(op.f('ix_govservice_complaints_client_id'), 'govservice_complaints', ['client_id'], unique=False)
    op.create_index('ix_govservice_complaints_community_id_status', 'govservice_complaints', ['community_id', 'status'], unique=False)
    op.create_index(op.f('ix_govservice_complaints_department_id'), 'govservice_complaints', ['department_id'], unique=False)
    op.create_index('ix_govservice_complaints_due_on_running', 'govservice_complaints', ['due_on'], unique=False, postgresql_where=sa.text("status IN ('accepted', 'dispatched')"))
    op.create_index(op.f('ix_govservice_complaints_grid_worker_user_id'), 'govservice_complaints', ['grid_worker_user_id'], unique=False)
    op.create_index('ix_govservice_complaints_resident_id_id', 'govservice_complaints', ['resident_id', 'id'], unique=False)
    op.create_table('govservice_complaint_events',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('complaint_id', sa.BigInteger(), nullable=False),
    sa.Column('action', sa.String(length=24), nullable=False),
    sa.Column('from_status', sa.String(length=16), nullable=True),
    sa.Column('to_status', sa.String(length=16), nullable=False),
    sa.Column('actor_user_id', sa.BigInteger(), nullable=True),
    sa.Column('note', sa.String(length=2000), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['actor_user_id'], ['accounts_users.id'], name=op.f('fk_govservice_complaint_events_actor_user_id_accounts_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['complaint_id'], ['govservice_complaints.id'], name=op.f('fk_govservice_complaint_events_complaint_id_govservice_complaints'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_govservice_complaint_events'))
    )
    op.create_index('ix_govservice_complaint_events_complaint_id_id', 'govservice_complaint_events', ['complaint_id', 'id'], unique=False)


def downgrade():
    op.drop_table('govservice_complaint_events')
    op.drop_table('govservice_complaints')
    op.drop_table('govservice_open311_clients')
    op.drop_table('govservice_complaint_categories')
