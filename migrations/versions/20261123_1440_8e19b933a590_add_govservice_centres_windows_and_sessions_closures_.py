"""Add govservice: centres, windows and sessions, closures, service guides with versions and materials, slots, bookings, queue counters and suspensions

Revision ID: 8e19b933a590
Revises: 8f3ee9d0e4a8
Create Date: 2026-11-23 14:40:00.000000

"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

# revision identifiers, used by Alembic.
revision = '8e19b933a590'
down_revision = '8f3ee9d0e4a8'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('govservice_centres',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('public_id', sa.String(length=24), nullable=False),
    sa.Column('region_id', sa.BigInteger(), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('address', sa.String(length=200), server_default='', nullable=False),
    sa.Column('phone', sa.String(length=32), server_default='', nullable=False),
    sa.Column('supervision_phone', sa.String(length=32), server_default='', nullable=False),
    sa.Column('hours', sa.String(length=200), server_default='', nullable=False, comment='办公时间, for display'),
    sa.Column('earliest_days', sa.SmallInteger(), server_default='0', nullable=False),
    sa.Column('latest_days', sa.SmallInteger(), server_default='7', nullable=False),
    sa.Column('cancel_cutoff_minutes', sa.Integer(), server_default='60', nullable=False),
    sa.Column('checkin_open_minutes', sa.SmallInteger(), server_default='60', nullable=False),
    sa.Column('one_per_item_per_day', sa.Boolean(), server_default=sa.text('true'), nullable=False),
    sa.Column('noshow_limit', sa.SmallInteger(), server_default='3', nullable=False),
    sa.Column('noshow_window_days', sa.SmallInteger(), server_default='90', nullable=False),
    sa.Column('suspension_days', sa.SmallInteger(), server_default='30', nullable=False),
    sa.Column('makeup_weekday', sa.SmallInteger(), server_default='0', nullable=False),
    sa.Column('reminder_eve_at', sa.Time(), server_default='18:00', nullable=False),
    sa.Column('reminder_before_minutes', sa.SmallInteger(), server_default='60', nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint('cancel_cutoff_minutes BETWEEN 0 AND 10080', name=op.f('ck_govservice_centres_cancel_cutoff_range')),
    sa.CheckConstraint('char_length(btrim(name)) > 0', name=op.f('ck_govservice_centres_name_not_empty')),
    sa.CheckConstraint('checkin_open_minutes BETWEEN 0 AND 720', name=op.f('ck_govservice_centres_checkin_open_range')),
    sa.CheckConstraint('earliest_days >= 0 AND earliest_days <= latest_days AND latest_days <= 90', name=op.f('ck_govservice_centres_window')),
    sa.CheckConstraint('makeup_weekday BETWEEN 0 AND 4', name=op.f('ck_govservice_centres_makeup_weekday_range')),
    sa.CheckConstraint('noshow_limit BETWEEN 0 AND 20 AND noshow_window_days BETWEEN 1 AND 365 AND suspension_days BETWEEN 1 AND 365', name=op.f('ck_govservice_centres_noshow_rule_range')),
    sa.CheckConstraint('reminder_before_minutes BETWEEN 0 AND 1440', name=op.f('ck_govservice_centres_reminder_before_range')),
    sa.ForeignKeyConstraint(['region_id'], ['community_regions.id'], name=op.f('fk_govservice_centres_region_id_community_regions'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_govservice_centres')),
    sa.UniqueConstraint('public_id', name=op.f('uq_govservice_centres_public_id'))
    )
    with op.batch_alter_table('govservice_centres', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_govservice_centres_region_id'), ['region_id'], unique=False)

    op.create_table('govservice_categories',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('public_id', sa.String(length=24), nullable=False),
    sa.Column('centre_id', sa.BigInteger(), nullable=False),
    sa.Column('name', sa.String(length=32), nullable=False),
    sa.Column('position', sa.SmallInteger(), server_default='0', nullable=False),
    sa.Column('search', sa.Text(), server_default='', nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['centre_id'], ['govservice_centres.id'], name=op.f('fk_govservice_categories_centre_id_govservice_centres'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_govservice_categories')),
    sa.UniqueConstraint('centre_id', 'name', name=op.f('uq_govservice_categories_centre_id_name')),
    sa.UniqueConstraint('id', 'centre_id', name='uq_govservice_categories_id_centre_id'),
    sa.UniqueConstraint('public_id', name=op.f('uq_govservice_categories_public_id'))
    )
    with op.batch_alter_table('govservice_categories', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_govservice_categories_centre_id'), ['centre_id'], unique=False)

    op.create_table('govservice_guide_items',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('public_id', sa.String(length=24), nullable=False),
    sa.Column('centre_id', sa.BigInteger(), nullable=False),
    sa.Column('code', sa.String(length=40), nullable=False),
    sa.Column('created_by_user_id', sa.BigInteger(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['centre_id'], ['govservice_centres.id'], name=op.f('fk_govservice_guide_items_centre_id_govservice_centres'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['created_by_user_id'], ['accounts_users.id'], name=op.f('fk_govservice_guide_items_created_by_user_id_accounts_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_govservice_guide_items')),
    sa.UniqueConstraint('centre_id', 'code', name=op.f('uq_govservice_guide_items_centre_id_code')),
    sa.UniqueConstraint('id', 'centre_id', name='uq_govservice_guide_items_id_centre_id'),
    sa.UniqueConstraint('public_id', name=op.f('uq_govservice_guide_items_public_id'))
    )
    with op.batch_alter_table('govservice_guide_items', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_govservice_guide_items_centre_id'), ['centre_id'], unique=False)

    op.create_table('govservice_suspensions',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('public_id', sa.String(length=24), nullable=False),
    sa.Column('centre_id', sa.BigInteger(), nullable=False),
    sa.Column('resident_id', sa.BigInteger(), nullable=False),
    sa.Column('starts_on', sa.Date(), nullable=False),
    sa.Column('ends_on', sa.Date(), nullable=False),
    sa.Column('no_shows', sa.SmallInteger(), nullable=False),
    sa.Column('lifted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('lifted_by_user_id', sa.BigInteger(), nullable=True),
    sa.Column('lift_reason', sa.String(length=200), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint('ends_on > starts_on', name=op.f('ck_govservice_suspensions_ends_after_start')),
    sa.ForeignKeyConstraint(['centre_id'], ['govservice_centres.id'], name=op.f('fk_govservice_suspensions_centre_id_govservice_centres'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['lifted_by_user_id'], ['accounts_users.id'], name=op.f('fk_govservice_suspensions_lifted_by_user_id_accounts_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['resident_id'], ['accounts_residents.id'], name=op.f('fk_govservice_suspensions_resident_id_accounts_residents'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_govservice_suspensions')),
    sa.UniqueConstraint('public_id', name=op.f('uq_govservice_suspensions_public_id'))
    )
    with op.batch_alter_table('govservice_suspensions', schema=None) as batch_op:
        batch_op.create_index('ix_govservice_suspensions_resident_id_centre_id', ['resident_id', 'centre_id'], unique=False)

    op.create_table('govservice_windows',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('public_id', sa.String(length=24), nullable=False),
    sa.Column('centre_id', sa.BigInteger(), nullable=False),
    sa.Column('number', sa.SmallInteger(), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('queue_prefix', sa.String(length=2), server_default='A', nullable=False),
    sa.Column('is_active', sa.Boolean(), server_default=sa.text('true'), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("queue_prefix ~ '^[A-Z]{1,2}$'", name=op.f('ck_govservice_windows_queue_prefix_letters')),
    sa.CheckConstraint('number BETWEEN 1 AND 999', name=op.f('ck_govservice_windows_number_range')),
    sa.ForeignKeyConstraint(['centre_id'], ['govservice_centres.id'], name=op.f('fk_govservice_windows_centre_id_govservice_centres'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_govservice_windows')),
    sa.UniqueConstraint('centre_id', 'number', name=op.f('uq_govservice_windows_centre_id_number')),
    sa.UniqueConstraint('id', 'centre_id', name='uq_govservice_windows_id_centre_id'),
    sa.UniqueConstraint('public_id', name=op.f('uq_govservice_windows_public_id'))
    )
    with op.batch_alter_table('govservice_windows', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_govservice_windows_centre_id'), ['centre_id'], unique=False)

    op.create_table('govservice_closures',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('public_id', sa.String(length=24), nullable=False),
    sa.Column('centre_id', sa.BigInteger(), nullable=False),
    sa.Column('window_id', sa.BigInteger(), nullable=True),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('starts_at', sa.Time(), nullable=True),
    sa.Column('ends_at', sa.Time(), nullable=True),
    sa.Column('reason', sa.String(length=200), nullable=False),
    sa.Column('cancelled_bookings', sa.Integer(), server_default='0', nullable=False),
    sa.Column('created_by_user_id', sa.BigInteger(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint('(starts_at IS NULL AND ends_at IS NULL) OR (starts_at IS NOT NULL AND ends_at > starts_at)', name=op.f('ck_govservice_closures_hours_complete')),
    sa.CheckConstraint('char_length(btrim(reason)) > 0', name=op.f('ck_govservice_closures_reason_not_empty')),
    sa.ForeignKeyConstraint(['centre_id'], ['govservice_centres.id'], name=op.f('fk_govservice_closures_centre_id_govservice_centres'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['created_by_user_id'], ['accounts_users.id'], name=op.f('fk_govservice_closures_created_by_user_id_accounts_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['window_id', 'centre_id'], ['govservice_windows.id', 'govservice_windows.centre_id'], name='fk_govservice_closures_window_id_govservice_windows', ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_govservice_closures')),
    sa.UniqueConstraint('public_id', name=op.f('uq_govservice_closures_public_id'))
    )
    with op.batch_alter_table('govservice_closures', schema=None) as batch_op:
        batch_op.create_index('ix_govservice_closures_centre_id_day', ['centre_id', 'day'], unique=False)

    op.create_table('govservice_guide_versions',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('item_id', sa.BigInteger(), nullable=False),
    sa.Column('centre_id', sa.BigInteger(), nullable=False),
    sa.Column('number', sa.Integer(), nullable=False, comment='1, 2, … per item'),
    sa.Column('status', sa.Enum('draft', 'published', 'retired', name='versionstatus', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('category_id', sa.BigInteger(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False, comment='事项名称'),
    sa.Column('department', sa.String(length=100), server_default='', nullable=False, comment='办理部门'),
    sa.Column('legal_basis', sa.Text(), server_default='', nullable=False, comment='设定依据'),
    sa.Column('conditions', sa.Text(), server_default='', nullable=False, comment='受理条件'),
    sa.Column('process', sa.Text(), server_default='', nullable=False, comment='办理流程'),
    sa.Column('fee_fen', sa.BigInteger(), server_default='0', nullable=False, comment='收费 (0 = 不收费)'),
    sa.Column('fee_standard', sa.Text(), server_default='', nullable=False, comment='收费标准'),
    sa.Column('fee_basis', sa.Text(), server_default='', nullable=False, comment='收费依据'),
    sa.Column('statutory_days', sa.SmallInteger(), nullable=True, comment='法定期限 (working days)'),
    sa.Column('promised_days', sa.SmallInteger(), server_default='0', nullable=False, comment='承诺期限 (working days)'),
    sa.Column('kind', sa.Enum('immediate', 'promised', name='itemkind', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('place', sa.String(length=200), server_default='', nullable=False, comment='办理地点'),
    sa.Column('hours', sa.String(length=200), server_default='', nullable=False, comment='办理时间'),
    sa.Column('phone', sa.String(length=32), server_default='', nullable=False, comment='咨询电话'),
    sa.Column('supervision_phone', sa.String(length=32), server_default='', nullable=False, comment='监督电话'),
    sa.Column('visits', sa.SmallInteger(), server_default='1', nullable=False, comment='到现场次数'),
    sa.Column('online', sa.Boolean(), server_default=sa.text('false'), nullable=False, comment='可网上办理'),
    sa.Column('bookable', sa.Boolean(), server_default=sa.text('false'), nullable=False, comment='可预约'),
    sa.Column('faq', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'[]'::jsonb"), nullable=False),
    sa.Column('keywords', sa.String(length=200), server_default='', nullable=False, comment='别名, e.g. 医保'),
    sa.Column('search', sa.Text(), server_default='', nullable=False),
    sa.Column('edited_by_user_id', sa.BigInteger(), nullable=True),
    sa.Column('published_by_user_id', sa.BigInteger(), nullable=True),
    sa.Column('published_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("(kind = 'immediate' AND promised_days = 0) OR (kind = 'promised' AND promised_days >= 1)", name=op.f('ck_govservice_guide_versions_kind_matches_days')),
    sa.CheckConstraint("status <> 'published' OR published_at IS NOT NULL", name=op.f('ck_govservice_guide_versions_published_has_time')),
    sa.CheckConstraint('char_length(btrim(name)) > 0', name=op.f('ck_govservice_guide_versions_name_not_empty')),
    sa.CheckConstraint('fee_fen >= 0', name=op.f('ck_govservice_guide_versions_fee_not_negative')),
    sa.CheckConstraint('promised_days BETWEEN 0 AND 365', name=op.f('ck_govservice_guide_versions_promised_days_range')),
    sa.CheckConstraint('statutory_days IS NULL OR statutory_days BETWEEN promised_days AND 365', name=op.f('ck_govservice_guide_versions_statutory_covers_promised')),
    sa.CheckConstraint('visits > 0 OR online', name=op.f('ck_govservice_guide_versions_no_visit_means_online')),
    sa.CheckConstraint('visits BETWEEN 0 AND 10', name=op.f('ck_govservice_guide_versions_visits_range')),
    sa.ForeignKeyConstraint(['category_id', 'centre_id'], ['govservice_categories.id', 'govservice_categories.centre_id'], name='fk_govservice_guide_versions_category_id_govservice_categories', ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['edited_by_user_id'], ['accounts_users.id'], name=op.f('fk_govservice_guide_versions_edited_by_user_id_accounts_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['item_id', 'centre_id'], ['govservice_guide_items.id', 'govservice_guide_items.centre_id'], name='fk_govservice_guide_versions_item_id_govservice_guide_items', ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['published_by_user_id'], ['accounts_users.id'], name=op.f('fk_govservice_guide_versions_published_by_user_id_accounts_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_govservice_guide_versions')),
    sa.UniqueConstraint('item_id', 'number', name=op.f('uq_govservice_guide_versions_item_id_number'))
    )
    with op.batch_alter_table('govservice_guide_versions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_govservice_guide_versions_category_id'), ['category_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_govservice_guide_versions_item_id'), ['item_id'], unique=False)
        batch_op.create_index('uq_govservice_guide_versions_one_draft', ['item_id'], unique=True, postgresql_where=sa.text("status = 'draft'"))
        batch_op.create_index('uq_govservice_guide_versions_one_published', ['item_id'], unique=True, postgresql_where=sa.text("status = 'published'"))

    op.create_table('govservice_queue_counters',
    sa.Column('window_id', sa.BigInteger(), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('last_number', sa.Integer(), nullable=False),
    sa.CheckConstraint('last_number >= 1', name=op.f('ck_govservice_queue_counters_last_number_positive')),
    sa.ForeignKeyConstraint(['window_id'], ['govservice_windows.id'], name=op.f('fk_govservice_queue_counters_window_id_govservice_windows'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('window_id', 'day', name=op.f('pk_govservice_queue_counters'))
    )
    op.create_table('govservice_sessions',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('window_id', sa.BigInteger(), nullable=False),
    sa.Column('weekday', sa.SmallInteger(), nullable=False, comment='0 = Monday … 6 = Sunday'),
    sa.Column('starts_at', sa.Time(), nullable=False),
    sa.Column('ends_at', sa.Time(), nullable=False),
    sa.Column('slot_minutes', sa.SmallInteger(), nullable=False),
    sa.Column('capacity', sa.SmallInteger(), nullable=False, comment='Bookings per slot'),
    sa.Column('workday_only', sa.Boolean(), server_default=sa.text('true'), nullable=False),
    sa.Column('holiday_service', sa.Boolean(), server_default=sa.text('false'), nullable=False),
    sa.Column('label', sa.String(length=32), server_default='', nullable=False, comment='e.g. 延时服务'),
    sa.CheckConstraint('NOT (workday_only AND holiday_service)', name=op.f('ck_govservice_sessions_workday_only_not_holiday_service')),
    sa.CheckConstraint('NOT workday_only OR weekday < 5', name=op.f('ck_govservice_sessions_workday_only_on_weekdays')),
    sa.CheckConstraint('capacity BETWEEN 1 AND 500', name=op.f('ck_govservice_sessions_capacity_range')),
    sa.CheckConstraint('ends_at > starts_at', name=op.f('ck_govservice_sessions_ends_after_start')),
    sa.CheckConstraint('slot_minutes BETWEEN 5 AND 240', name=op.f('ck_govservice_sessions_slot_minutes_range')),
    sa.CheckConstraint('weekday BETWEEN 0 AND 6', name=op.f('ck_govservice_sessions_weekday_range')),
    sa.ForeignKeyConstraint(['window_id'], ['govservice_windows.id'], name=op.f('fk_govservice_sessions_window_id_govservice_windows'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_govservice_sessions'))
    )
    with op.batch_alter_table('govservice_sessions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_govservice_sessions_window_id'), ['window_id'], unique=False)

    op.create_table('govservice_slots',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('window_id', sa.BigInteger(), nullable=False),
    sa.Column('day', sa.Date(), nullable=False, comment='Business day in Asia/Shanghai'),
    sa.Column('starts_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ends_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('capacity', sa.SmallInteger(), nullable=False),
    sa.Column('booked', sa.SmallInteger(), server_default='0', nullable=False),
    sa.CheckConstraint('booked >= 0 AND booked <= capacity', name=op.f('ck_govservice_slots_booked_within_capacity')),
    sa.CheckConstraint('capacity >= 1', name=op.f('ck_govservice_slots_capacity_positive')),
    sa.CheckConstraint('ends_at > starts_at', name=op.f('ck_govservice_slots_ends_after_start')),
    sa.ForeignKeyConstraint(['window_id'], ['govservice_windows.id'], name=op.f('fk_govservice_slots_window_id_govservice_windows'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_govservice_slots')),
    sa.UniqueConstraint('window_id', 'starts_at', name=op.f('uq_govservice_slots_window_id_starts_at'))
    )
    op.create_table('govservice_window_items',
    sa.Column('window_id', sa.BigInteger(), nullable=False),
    sa.Column('item_id', sa.BigInteger(), nullable=False),
    sa.Column('centre_id', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['item_id', 'centre_id'], ['govservice_guide_items.id', 'govservice_guide_items.centre_id'], name='fk_govservice_window_items_item_id_govservice_guide_items', ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['window_id', 'centre_id'], ['govservice_windows.id', 'govservice_windows.centre_id'], name='fk_govservice_window_items_window_id_govservice_windows', ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('window_id', 'item_id', name=op.f('pk_govservice_window_items'))
    )
    with op.batch_alter_table('govservice_window_items', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_govservice_window_items_item_id'), ['item_id'], unique=False)

    op.create_table('govservice_bookings',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('public_id', sa.String(length=24), nullable=False),
    sa.Column('centre_id', sa.BigInteger(), nullable=False),
    sa.Column('window_id', sa.BigInteger(), nullable=False),
    sa.Column('slot_id', sa.BigInteger(), nullable=False),
    sa.Column('item_id', sa.BigInteger(), nullable=False),
    sa.Column('resident_id', sa.BigInteger(), nullable=False),
    sa.Column('booked_by_user_id', sa.BigInteger(), nullable=True),
    sa.Column('via', sa.Enum('self', 'delegate', 'staff', name='bookingvia', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('reason', sa.String(length=200), nullable=True),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('starts_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ends_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('status', sa.Enum('booked', 'checked_in', 'served', 'no_show', 'cancelled', name='bookingstatus', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('per_day_rule', sa.Boolean(), nullable=False),
    sa.Column('queue_number', sa.Integer(), nullable=True),
    sa.Column('checked_in_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('served_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('no_show_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('handled_by_user_id', sa.BigInteger(), nullable=True),
    sa.Column('cancelled_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('cancelled_by_user_id', sa.BigInteger(), nullable=True),
    sa.Column('cancel_reason', sa.String(length=200), nullable=True),
    sa.Column('closure_id', sa.BigInteger(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("status <> 'cancelled' OR cancelled_at IS NOT NULL", name=op.f('ck_govservice_bookings_cancelled_has_time')),
    sa.CheckConstraint("status NOT IN ('checked_in', 'served') OR queue_number IS NOT NULL", name=op.f('ck_govservice_bookings_queued')),
    sa.CheckConstraint('ends_at > starts_at', name=op.f('ck_govservice_bookings_ends_after_start')),
    sa.ForeignKeyConstraint(['booked_by_user_id'], ['accounts_users.id'], name=op.f('fk_govservice_bookings_booked_by_user_id_accounts_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['cancelled_by_user_id'], ['accounts_users.id'], name=op.f('fk_govservice_bookings_cancelled_by_user_id_accounts_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['centre_id'], ['govservice_centres.id'], name=op.f('fk_govservice_bookings_centre_id_govservice_centres'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['closure_id'], ['govservice_closures.id'], name=op.f('fk_govservice_bookings_closure_id_govservice_closures'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['handled_by_user_id'], ['accounts_users.id'], name=op.f('fk_govservice_bookings_handled_by_user_id_accounts_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['item_id'], ['govservice_guide_items.id'], name=op.f('fk_govservice_bookings_item_id_govservice_guide_items'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['resident_id'], ['accounts_residents.id'], name=op.f('fk_govservice_bookings_resident_id_accounts_residents'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['slot_id'], ['govservice_slots.id'], name=op.f('fk_govservice_bookings_slot_id_govservice_slots'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['window_id'], ['govservice_windows.id'], name=op.f('fk_govservice_bookings_window_id_govservice_windows'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_govservice_bookings')),
    sa.UniqueConstraint('public_id', name=op.f('uq_govservice_bookings_public_id')),
    sa.UniqueConstraint('window_id', 'day', 'queue_number', name=op.f('uq_govservice_bookings_window_id_day_queue_number'))
    )
    with op.batch_alter_table('govservice_bookings', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_govservice_bookings_booked_by_user_id'), ['booked_by_user_id'], unique=False)
        batch_op.create_index('ix_govservice_bookings_centre_id_day', ['centre_id', 'day'], unique=False)
        batch_op.create_index('ix_govservice_bookings_resident_id_created_at', ['resident_id', 'created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_govservice_bookings_slot_id'), ['slot_id'], unique=False)
        batch_op.create_index('uq_govservice_bookings_one_per_item_per_day', ['resident_id', 'item_id', 'day'], unique=True, postgresql_where=sa.text("status IN ('booked', 'checked_in') AND per_day_rule"))

    op.create_table('govservice_guide_materials',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('version_id', sa.BigInteger(), nullable=False),
    sa.Column('position', sa.SmallInteger(), nullable=False),
    sa.Column('code', sa.String(length=32), nullable=False, comment='Stable material code, e.g. id_card, hukou_book'),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('form', sa.Enum('original', 'copy', 'original_and_copy', 'electronic', name='materialform', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('copies', sa.SmallInteger(), server_default='1', nullable=False, comment='份数'),
    sa.Column('required', sa.Boolean(), server_default=sa.text('true'), nullable=False),
    sa.Column('profile_fact', sa.String(length=32), nullable=True),
    sa.Column('reusable', sa.Boolean(), server_default=sa.text('false'), nullable=False),
    sa.Column('note', sa.String(length=200), server_default='', nullable=False),
    sa.CheckConstraint("code ~ '^[a-z][a-z0-9_]{0,31}$'", name=op.f('ck_govservice_guide_materials_code_format')),
    sa.CheckConstraint('copies BETWEEN 1 AND 20', name=op.f('ck_govservice_guide_materials_copies_range')),
    sa.ForeignKeyConstraint(['version_id'], ['govservice_guide_versions.id'], name=op.f('fk_govservice_guide_materials_version_id_govservice_guide_versions'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_govservice_guide_materials')),
    sa.UniqueConstraint('version_id', 'code', name=op.f('uq_govservice_guide_materials_version_id_code')),
    sa.UniqueConstraint('version_id', 'position', name=op.f('uq_govservice_guide_materials_version_id_position'))
    )


def downgrade():
    op.drop_table('govservice_guide_materials')
    with op.batch_alter_table('govservice_bookings', schema=None) as batch_op:
        batch_op.drop_index('uq_govservice_bookings_one_per_item_per_day', postgresql_where=sa.text("status IN ('booked', 'checked_in') AND per_day_rule"))
        batch_op.drop_index(batch_op.f('ix_govservice_bookings_slot_id'))
        batch_op.drop_index('ix_govservice_bookings_resident_id_created_at')
        batch_op.drop_index('ix_govservice_bookings_centre_id_day')
        batch_op.drop_index(batch_op.f('ix_govservice_bookings_booked_by_user_id'))

    op.drop_table('govservice_bookings')
    with op.batch_alter_table('govservice_window_items', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_govservice_window_items_item_id'))

    op.drop_table('govservice_window_items')
    op.drop_table('govservice_slots')
    with op.batch_alter_table('govservice_sessions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_govservice_sessions_window_id'))

    op.drop_table('govservice_sessions')
    op.drop_table('govservice_queue_counters')
    with op.batch_alter_table('govservice_guide_versions', schema=None) as batch_op:
        batch_op.drop_index('uq_govservice_guide_versions_one_published', postgresql_where=sa.text("status = 'published'"))
        batch_op.drop_index('uq_govservice_guide_versions_one_draft', postgresql_where=sa.text("status = 'draft'"))
        batch_op.drop_index(batch_op.f('ix_govservice_guide_versions_item_id'))
        batch_op.drop_index(batch_op.f('ix_govservice_guide_versions_category_id'))

    op.drop_table('govservice_guide_versions')
    with op.batch_alter_table('govservice_closures', schema=None) as batch_op:
        batch_op.drop_index('ix_govservice_closures_centre_id_day')

    op.drop_table('govservice_closures')
    with op.batch_alter_table('govservice_windows', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_govservice_windows_centre_id'))

    op.drop_table('govservice_windows')
    with op.batch_alter_table('govservice_suspensions', schema=None) as batch_op:
        batch_op.drop_index('ix_govservice_suspensions_resident_id_centre_id')

    op.drop_table('govservice_suspensions')
    with op.batch_alter_table('govservice_guide_items', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_govservice_guide_items_centre_id'))

    op.drop_table('govservice_guide_items')
    with op.batch_alter_table('govservice_categories', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_govservice_categories_centre_id'))

    op.drop_table('govservice_categories')
    with op.batch_alter_table('govservice_centres', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_govservice_centres_region_id'))

    op.drop_table('govservice_centres')
