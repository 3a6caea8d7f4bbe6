"""Add eldercare meals (dishes, daily menus, cut-off settings, meal orders), recurring orders (series, pauses,
occurrences) and care balances (助餐卡: balances, top-ups, ledger)

Revision ID: c4e8a2d19b57
Revises: 16d4f8ffd661
Create Date: 2026-12-03 09:00:00.000000

"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

# revision identifiers, used by Alembic.
revision = 'c4e8a2d19b57'
down_revision = '16d4f8ffd661'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('eldercare_care_balances',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('public_id', sa.String(length=24), nullable=False),
    sa.Column('resident_id', sa.BigInteger(), nullable=False),
    sa.Column('provider_id', sa.BigInteger(), nullable=False),
    sa.Column('balance_fen', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('issued_by_user_id', sa.BigInteger(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint('balance_fen >= 0', name=op.f('ck_eldercare_care_balances_balance_not_negative')),
    sa.ForeignKeyConstraint(['issued_by_user_id'], ['accounts_users.id'], name=op.f('fk_eldercare_care_balances_issued_by_user_id_accounts_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['provider_id'], ['eldercare_providers.id'], name=op.f('fk_eldercare_care_balances_provider_id_eldercare_providers'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['resident_id'], ['accounts_residents.id'], name=op.f('fk_eldercare_care_balances_resident_id_accounts_residents'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_eldercare_care_balances')),
    sa.UniqueConstraint('public_id', name=op.f('uq_eldercare_care_balances_public_id')),
    sa.UniqueConstraint('resident_id', 'provider_id', name=op.f('uq_eldercare_care_balances_resident_id_provider_id'))
    )
    op.create_index(op.f('ix_eldercare_care_balances_provider_id'), 'eldercare_care_balances', ['provider_id'], unique=False)
    op.create_table('eldercare_dishes',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('public_id', sa.String(length=24), nullable=False),
    sa.Column('provider_id', sa.BigInteger(), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('description', sa.String(length=200), nullable=True),
    sa.Column('diet_tags', postgresql.ARRAY(sa.String(length=20)), server_default='{}', nullable=False),
    sa.Column('conflicts_with', postgresql.ARRAY(sa.String(length=20)), server_default='{}', nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("conflicts_with <@ ARRAY['low_salt', 'diabetic', 'soft_food', 'seafood_allergy', 'peanut_allergy', 'egg_allergy', 'milk_allergy']::varchar[]", name=op.f('ck_eldercare_dishes_conflicts_known')),
    sa.CheckConstraint("diet_tags <@ ARRAY['low_salt', 'diabetic_friendly', 'soft_food']::varchar[]", name=op.f('ck_eldercare_dishes_diet_tags_known')),
    sa.ForeignKeyConstraint(['provider_id'], ['eldercare_providers.id'], name=op.f('fk_eldercare_dishes_provider_id_eldercare_providers'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_eldercare_dishes')),
    sa.UniqueConstraint('provider_id', 'name', name=op.f('uq_eldercare_dishes_provider_id_name')),
    sa.UniqueConstraint('public_id', name=op.f('uq_eldercare_dishes_public_id'))
    )
    op.create_table('eldercare_meal_settings',
    sa.Column('provider_id', sa.BigInteger(), nullable=False),
    sa.Column('cutoff', sa.Time(), nullable=False, comment="Orders for a day's lunch close at this time that day (Shanghai)"),
    sa.Column('serve_at', sa.Time(), nullable=False, comment='When lunch is served or delivered (Shanghai)'),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['provider_id'], ['eldercare_providers.id'], name=op.f('fk_eldercare_meal_settings_provider_id_eldercare_providers'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('provider_id', name=op.f('pk_eldercare_meal_settings'))
    )
    op.create_table('eldercare_balance_topups',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('public_id', sa.String(length=24), nullable=False),
    sa.Column('balance_id', sa.BigInteger(), nullable=False),
    sa.Column('amount_fen', sa.BigInteger(), nullable=False),
    sa.Column('status', sa.Enum('pending', 'paid', name='topupstatus', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('requested_by_user_id', sa.BigInteger(), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('paid_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('payment_public_id', sa.String(length=24), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint('amount_fen > 0', name=op.f('ck_eldercare_balance_topups_amount_positive')),
    sa.ForeignKeyConstraint(['balance_id'], ['eldercare_care_balances.id'], name=op.f('fk_eldercare_balance_topups_balance_id_eldercare_care_balances'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['requested_by_user_id'], ['accounts_users.id'], name=op.f('fk_eldercare_balance_topups_requested_by_user_id_accounts_users'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_eldercare_balance_topups')),
    sa.UniqueConstraint('public_id', name=op.f('uq_eldercare_balance_topups_public_id'))
    )
    op.create_index(op.f('ix_eldercare_balance_topups_balance_id'), 'eldercare_balance_topups', ['balance_id'], unique=False)
    op.create_table('eldercare_menu_entries',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('public_id', sa.String(length=24), nullable=False),
    sa.Column('provider_id', sa.BigInteger(), nullable=False),
    sa.Column('offer_id', sa.BigInteger(), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('dish_id', sa.BigInteger(), nullable=False),
    sa.Column('withdrawn_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['dish_id'], ['eldercare_dishes.id'], name=op.f('fk_eldercare_menu_entries_dish_id_eldercare_dishes'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['offer_id'], ['eldercare_offers.id'], name=op.f('fk_eldercare_menu_entries_offer_id_eldercare_offers'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['provider_id'], ['eldercare_providers.id'], name=op.f('fk_eldercare_menu_entries_provider_id_eldercare_providers'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_eldercare_menu_entries')),
    sa.UniqueConstraint('offer_id', 'day', 'dish_id', name=op.f('uq_eldercare_menu_entries_offer_id_day_dish_id')),
    sa.UniqueConstraint('public_id', name=op.f('uq_eldercare_menu_entries_public_id'))
    )
    op.create_index(op.f('ix_eldercare_menu_entries_dish_id'), 'eldercare_menu_entries', ['dish_id'], unique=False)
    op.create_index('ix_eldercare_menu_entries_provider_day', 'eldercare_menu_entries', ['provider_id', 'day'], unique=False)
    op.create_table('eldercare_series',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('public_id', sa.String(length=24), nullable=False),
    sa.Column('resident_id', sa.BigInteger(), nullable=False),
    sa.Column('provider_id', sa.BigInteger(), nullable=False),
    sa.Column('offer_id', sa.BigInteger(), nullable=False),
    sa.Column('pattern', sa.Enum('workdays', 'weekly', name='seriespattern', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('weekdays', postgresql.ARRAY(sa.SmallInteger()), server_default='{}', nullable=False),
    sa.Column('time_of_day', sa.Time(), nullable=False, comment='Scheduled start on each day (Shanghai)'),
    sa.Column('starts_on', sa.Date(), nullable=False),
    sa.Column('ends_on', sa.Date(), nullable=True),
    sa.Column('status', sa.Enum('active', 'ended', name='seriesstatus', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('pay_from_balance', sa.Boolean(), server_default=sa.text('true'), nullable=False),
    sa.Column('notes', sa.String(length=200), nullable=True),
    sa.Column('placed_by_user_id', sa.BigInteger(), nullable=False),
    sa.Column('placed_via', sa.Enum('self', 'delegate', 'staff', name='placedvia', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('staff_reason', sa.String(length=200), nullable=True),
    sa.Column('ended_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('ended_by_user_id', sa.BigInteger(), nullable=True),
    sa.Column('end_reason', sa.String(length=200), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("pattern <> 'weekly' OR cardinality(weekdays) > 0", name=op.f('ck_eldercare_series_weekly_has_days')),
    sa.CheckConstraint("placed_via <> 'staff' OR staff_reason IS NOT NULL", name=op.f('ck_eldercare_series_staff_has_reason')),
    sa.CheckConstraint('ends_on IS NULL OR ends_on >= starts_on', name=op.f('ck_eldercare_series_dates_ordered')),
    sa.CheckConstraint('weekdays <@ ARRAY[1, 2, 3, 4, 5, 6, 7]::smallint[]', name=op.f('ck_eldercare_series_weekdays_known')),
    sa.ForeignKeyConstraint(['ended_by_user_id'], ['accounts_users.id'], name=op.f('fk_eldercare_series_ended_by_user_id_accounts_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['offer_id'], ['eldercare_offers.id'], name=op.f('fk_eldercare_series_offer_id_eldercare_offers'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['placed_by_user_id'], ['accounts_users.id'], name=op.f('fk_eldercare_series_placed_by_user_id_accounts_users'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['provider_id'], ['eldercare_providers.id'], name=op.f('fk_eldercare_series_provider_id_eldercare_providers'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['resident_id'], ['accounts_residents.id'], name=op.f('fk_eldercare_series_resident_id_accounts_residents'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_eldercare_series')),
    sa.UniqueConstraint('public_id', name=op.f('uq_eldercare_series_public_id'))
    )
    op.create_index(op.f('ix_eldercare_series_placed_by_user_id'), 'eldercare_series', ['placed_by_user_id'], unique=False)
    op.create_index(op.f('ix_eldercare_series_provider_id'), 'eldercare_series', ['provider_id'], unique=False)
    op.create_index(op.f('ix_eldercare_series_resident_id'), 'eldercare_series', ['resident_id'], unique=False)
    op.create_index('ix_eldercare_series_status', 'eldercare_series', ['status', 'id'], unique=False)
    op.create_table('eldercare_balance_ledger',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('balance_id', sa.BigInteger(), nullable=False),
    sa.Column('kind', sa.Enum('topup', 'draw', 'refund', name='balanceentrykind', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('amount_fen', sa.BigInteger(), nullable=False),
    sa.Column('balance_after_fen', sa.BigInteger(), nullable=False),
    sa.Column('order_id', sa.BigInteger(), nullable=True),
    sa.Column('topup_id', sa.BigInteger(), nullable=True),
    sa.Column('idempotency_key', sa.String(length=100), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint('amount_fen > 0', name=op.f('ck_eldercare_balance_ledger_amount_positive')),
    sa.ForeignKeyConstraint(['balance_id'], ['eldercare_care_balances.id'], name=op.f('fk_eldercare_balance_ledger_balance_id_eldercare_care_balances'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['order_id'], ['eldercare_orders.id'], name=op.f('fk_eldercare_balance_ledger_order_id_eldercare_orders'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['topup_id'], ['eldercare_balance_topups.id'], name=op.f('fk_eldercare_balance_ledger_topup_id_eldercare_balance_topups'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_eldercare_balance_ledger')),
    sa.UniqueConstraint('idempotency_key', name=op.f('uq_eldercare_balance_ledger_idempotency_key'))
    )
    op.create_index('ix_eldercare_balance_ledger_balance', 'eldercare_balance_ledger', ['balance_id', 'id'], unique=False)
    op.create_index(op.f('ix_eldercare_balance_ledger_order_id'), 'eldercare_balance_ledger', ['order_id'], unique=False)
    op.create_table('eldercare_meal_orders',
    sa.Column('order_id', sa.BigInteger(), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('menu_entry_id', sa.BigInteger(), nullable=True),
    sa.Column('diet_conflicts', postgresql.ARRAY(sa.String(length=20)), server_default='{}', nullable=False),
    sa.Column('conflict_confirmed_by_user_id', sa.BigInteger(), nullable=True),
    sa.ForeignKeyConstraint(['conflict_confirmed_by_user_id'], ['accounts_users.id'], name=op.f('fk_eldercare_meal_orders_conflict_confirmed_by_user_id_accounts_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['menu_entry_id'], ['eldercare_menu_entries.id'], name=op.f('fk_eldercare_meal_orders_menu_entry_id_eldercare_menu_entries'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['order_id'], ['eldercare_orders.id'], name=op.f('fk_eldercare_meal_orders_order_id_eldercare_orders'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('order_id', name=op.f('pk_eldercare_meal_orders'))
    )
    op.create_index(op.f('ix_eldercare_meal_orders_menu_entry_id'), 'eldercare_meal_orders', ['menu_entry_id'], unique=False)
    op.create_table('eldercare_series_occurrences',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('series_id', sa.BigInteger(), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('order_id', sa.BigInteger(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['order_id'], ['eldercare_orders.id'], name=op.f('fk_eldercare_series_occurrences_order_id_eldercare_orders'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['series_id'], ['eldercare_series.id'], name=op.f('fk_eldercare_series_occurrences_series_id_eldercare_series'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_eldercare_series_occurrences')),
    sa.UniqueConstraint('order_id', name=op.f('uq_eldercare_series_occurrences_order_id')),
    sa.UniqueConstraint('series_id', 'day', name=op.f('uq_eldercare_series_occurrences_series_id_day'))
    )
    op.create_table('eldercare_series_pauses',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('series_id', sa.BigInteger(), nullable=False),
    sa.Column('from_day', sa.Date(), nullable=False),
    sa.Column('to_day', sa.Date(), nullable=True),
    sa.Column('reason', sa.String(length=200), nullable=True),
    sa.Column('created_by_user_id', sa.BigInteger(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint('to_day IS NULL OR to_day >= from_day', name=op.f('ck_eldercare_series_pauses_days_ordered')),
    sa.ForeignKeyConstraint(['created_by_user_id'], ['accounts_users.id'], name=op.f('fk_eldercare_series_pauses_created_by_user_id_accounts_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['series_id'], ['eldercare_series.id'], name=op.f('fk_eldercare_series_pauses_series_id_eldercare_series'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_eldercare_series_pauses'))
    )
    op.create_index(op.f('ix_eldercare_series_pauses_series_id'), 'eldercare_series_pauses', ['series_id'], unique=False)


def downgrade():
    op.drop_index(op.f('ix_eldercare_series_pauses_series_id'), table_name='eldercare_series_pauses')
    op.drop_table('eldercare_series_pauses')
    op.drop_table('eldercare_series_occurrences')
    op.drop_index(op.f('ix_eldercare_meal_orders_menu_entry_id'), table_name='eldercare_meal_orders')
    op.drop_table('eldercare_meal_orders')
    op.drop_index(op.f('ix_eldercare_balance_ledger_order_id'), table_name='eldercare_balance_ledger')
    op.drop_index('ix_eldercare_balance_ledger_balance', table_name='eldercare_balance_ledger')
    op.drop_table('eldercare_balance_ledger')
    op.drop_index('ix_eldercare_series_status', table_name='eldercare_series')
    op.drop_index(op.f('ix_eldercare_series_resident_id'), table_name='eldercare_series')
    op.drop_index(op.f('ix_eldercare_series_provider_id'), table_name='eldercare_series')
    op.drop_index(op.f('ix_eldercare_series_placed_by_user_id'), table_name='eldercare_series')
    op.drop_table('eldercare_series')
    op.drop_index('ix_eldercare_menu_entries_provider_day', table_name='eldercare_menu_entries')
    op.drop_index(op.f('ix_eldercare_menu_entries_dish_id'), table_name='eldercare_menu_entries')
    op.drop_table('eldercare_menu_entries')
    op.drop_index(op.f('ix_eldercare_balance_topups_balance_id'), table_name='eldercare_balance_topups')
    op.drop_table('eldercare_balance_topups')
    op.drop_table('eldercare_meal_settings')
    op.drop_table('eldercare_dishes')
    op.drop_index(op.f('ix_eldercare_care_balances_provider_id'), table_name='eldercare_care_balances')
    op.drop_table('eldercare_care_balances')
