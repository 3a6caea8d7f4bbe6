"""Add fees: fee items, meter readings, billing runs, bills and adjustments, fee orders, receipts and reminders

Revision ID: f8dc96045de3
Revises: 8e19b933a590
Create Date: 2026-11-23 15:00:00.000000

"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

# revision identifiers, used by Alembic.
revision = 'f8dc96045de3'
down_revision = '8e19b933a590'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('fees_billing_runs',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('public_id', sa.String(length=24), nullable=False),
    sa.Column('estate_id', sa.BigInteger(), nullable=False),
    sa.Column('community_id', sa.BigInteger(), nullable=False),
    sa.Column('period', sa.Date(), nullable=False),
    sa.Column('status', sa.String(length=16), server_default='queued', nullable=False),
    sa.Column('stats', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    sa.Column('requested_by_user_id', sa.BigInteger(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['estate_id'], ['community_estates.id'], name=op.f('fk_fees_billing_runs_estate_id_community_estates'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['requested_by_user_id'], ['accounts_users.id'], name=op.f('fk_fees_billing_runs_requested_by_user_id_accounts_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_fees_billing_runs')),
    sa.UniqueConstraint('public_id', name=op.f('uq_fees_billing_runs_public_id'))
    )
    op.create_index(op.f('ix_fees_billing_runs_estate_id'), 'fees_billing_runs', ['estate_id'], unique=False)
    op.create_table('fees_items',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('public_id', sa.String(length=24), nullable=False),
    sa.Column('estate_id', sa.BigInteger(), nullable=False),
    sa.Column('community_id', sa.BigInteger(), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('kind', sa.Enum('property', 'parking', 'garbage', 'water', 'electricity', 'gas', 'heating', 'elevator', 'other', name='feekind', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('formula', sa.Enum('per_area', 'fixed', 'metered', name='formula', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('rate_centifen', sa.BigInteger(), nullable=False, comment='Rate in 0.01 fen: per m² per month, per household per month, or per meter unit'),
    sa.Column('unit_label', sa.String(length=16), nullable=True),
    sa.Column('cycle', sa.Enum('monthly', 'quarterly', 'yearly', 'one_off', name='cycle', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('payee_id', sa.BigInteger(), nullable=False),
    sa.Column('due_days', sa.SmallInteger(), server_default='15', nullable=False),
    sa.Column('late_fee_bps_per_day', sa.Integer(), server_default='0', nullable=False),
    sa.Column('late_fee_cap_bps', sa.Integer(), server_default='0', nullable=False),
    sa.Column('is_active', sa.Boolean(), server_default=sa.text('true'), nullable=False),
    sa.Column('created_by_user_id', sa.BigInteger(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint('due_days BETWEEN 0 AND 366', name=op.f('ck_fees_items_due_days_range')),
    sa.CheckConstraint('late_fee_bps_per_day BETWEEN 0 AND 10000', name=op.f('ck_fees_items_late_fee_bps_range')),
    sa.CheckConstraint('late_fee_cap_bps BETWEEN 0 AND 100000', name=op.f('ck_fees_items_late_fee_cap_range')),
    sa.CheckConstraint('rate_centifen >= 0', name=op.f('ck_fees_items_rate_not_negative')),
    sa.ForeignKeyConstraint(['created_by_user_id'], ['accounts_users.id'], name=op.f('fk_fees_items_created_by_user_id_accounts_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['estate_id'], ['community_estates.id'], name=op.f('fk_fees_items_estate_id_community_estates'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['payee_id'], ['payments_payees.id'], name=op.f('fk_fees_items_payee_id_payments_payees'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_fees_items')),
    sa.UniqueConstraint('estate_id', 'name', name=op.f('uq_fees_items_estate_id_name')),
    sa.UniqueConstraint('public_id', name=op.f('uq_fees_items_public_id'))
    )
    op.create_index(op.f('ix_fees_items_community_id'), 'fees_items', ['community_id'], unique=False)
    op.create_index(op.f('ix_fees_items_estate_id'), 'fees_items', ['estate_id'], unique=False)
    op.create_index(op.f('ix_fees_items_payee_id'), 'fees_items', ['payee_id'], unique=False)
    op.create_table('fees_receipt_counters',
    sa.Column('estate_id', sa.BigInteger(), nullable=False),
    sa.Column('year', sa.SmallInteger(), nullable=False),
    sa.Column('last_seq', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['estate_id'], ['community_estates.id'], name=op.f('fk_fees_receipt_counters_estate_id_community_estates'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('estate_id', 'year', name=op.f('pk_fees_receipt_counters'))
    )
    op.create_table('fees_arrears_reminders',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('household_id', sa.BigInteger(), nullable=False),
    sa.Column('estate_id', sa.BigInteger(), nullable=False),
    sa.Column('sent_on', sa.Date(), nullable=False),
    sa.Column('bills_count', sa.Integer(), nullable=False),
    sa.Column('principal_fen', sa.BigInteger(), nullable=False),
    sa.Column('late_fee_fen', sa.BigInteger(), nullable=False),
    sa.Column('delivery_id', sa.String(length=24), nullable=True),
    sa.Column('by_user_id', sa.BigInteger(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['by_user_id'], ['accounts_users.id'], name=op.f('fk_fees_arrears_reminders_by_user_id_accounts_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['household_id'], ['community_households.id'], name=op.f('fk_fees_arrears_reminders_household_id_community_households'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_fees_arrears_reminders'))
    )
    op.create_index(op.f('ix_fees_arrears_reminders_estate_id'), 'fees_arrears_reminders', ['estate_id'], unique=False)
    op.create_index(op.f('ix_fees_arrears_reminders_household_id'), 'fees_arrears_reminders', ['household_id'], unique=False)
    op.create_table('fees_meter_readings',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('public_id', sa.String(length=24), nullable=False),
    sa.Column('item_id', sa.BigInteger(), nullable=False),
    sa.Column('household_id', sa.BigInteger(), nullable=False),
    sa.Column('period', sa.Date(), nullable=False),
    sa.Column('previous_reading', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('current_reading', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('usage', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('read_on', sa.Date(), nullable=False),
    sa.Column('meter_change_note', sa.String(length=200), nullable=True),
    sa.Column('old_meter_end', sa.Numeric(precision=14, scale=2), nullable=True),
    sa.Column('new_meter_start', sa.Numeric(precision=14, scale=2), nullable=True),
    sa.Column('entered_by_user_id', sa.BigInteger(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint('current_reading >= previous_reading OR meter_change_note IS NOT NULL', name=op.f('ck_fees_meter_readings_no_decrease_without_note')),
    sa.CheckConstraint('extract(day from period) = 1', name=op.f('ck_fees_meter_readings_period_first_day')),
    sa.CheckConstraint('previous_reading >= 0 AND current_reading >= 0', name=op.f('ck_fees_meter_readings_readings_not_negative')),
    sa.CheckConstraint('usage >= 0', name=op.f('ck_fees_meter_readings_usage_not_negative')),
    sa.ForeignKeyConstraint(['entered_by_user_id'], ['accounts_users.id'], name=op.f('fk_fees_meter_readings_entered_by_user_id_accounts_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['household_id'], ['community_households.id'], name=op.f('fk_fees_meter_readings_household_id_community_households'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['item_id'], ['fees_items.id'], name=op.f('fk_fees_meter_readings_item_id_fees_items'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_fees_meter_readings')),
    sa.UniqueConstraint('household_id', 'item_id', 'period', name=op.f('uq_fees_meter_readings_household_id_item_id_period')),
    sa.UniqueConstraint('public_id', name=op.f('uq_fees_meter_readings_public_id'))
    )
    op.create_index(op.f('ix_fees_meter_readings_item_id'), 'fees_meter_readings', ['item_id'], unique=False)
    op.create_table('fees_orders',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('public_id', sa.String(length=24), nullable=False),
    sa.Column('household_id', sa.BigInteger(), nullable=False),
    sa.Column('estate_id', sa.BigInteger(), nullable=False),
    sa.Column('community_id', sa.BigInteger(), nullable=False),
    sa.Column('payee_id', sa.BigInteger(), nullable=False),
    sa.Column('created_by_user_id', sa.BigInteger(), nullable=False),
    sa.Column('for_resident_id', sa.BigInteger(), nullable=False),
    sa.Column('status', sa.Enum('open', 'paid', 'expired', 'cancelled', 'refunded', name='orderstatus', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('principal_fen', sa.BigInteger(), nullable=False),
    sa.Column('late_fee_fen', sa.BigInteger(), nullable=False),
    sa.Column('amount_fen', sa.BigInteger(), nullable=False),
    sa.Column('priced_on', sa.Date(), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('paid_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('payment_public_id', sa.String(length=24), nullable=True),
    sa.Column('refunded_fen', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("(status = 'paid' OR status = 'refunded') = (paid_at IS NOT NULL)", name=op.f('ck_fees_orders_paid_has_time')),
    sa.CheckConstraint('amount_fen = principal_fen + late_fee_fen', name=op.f('ck_fees_orders_amount_adds_up')),
    sa.CheckConstraint('amount_fen > 0', name=op.f('ck_fees_orders_amount_positive')),
    sa.CheckConstraint('refunded_fen >= 0 AND refunded_fen <= amount_fen', name=op.f('ck_fees_orders_refund_within_amount')),
    sa.ForeignKeyConstraint(['created_by_user_id'], ['accounts_users.id'], name=op.f('fk_fees_orders_created_by_user_id_accounts_users'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['for_resident_id'], ['accounts_residents.id'], name=op.f('fk_fees_orders_for_resident_id_accounts_residents'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['household_id'], ['community_households.id'], name=op.f('fk_fees_orders_household_id_community_households'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['payee_id'], ['payments_payees.id'], name=op.f('fk_fees_orders_payee_id_payments_payees'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_fees_orders')),
    sa.UniqueConstraint('public_id', name=op.f('uq_fees_orders_public_id'))
    )
    op.create_index(op.f('ix_fees_orders_created_by_user_id'), 'fees_orders', ['created_by_user_id'], unique=False)
    op.create_table('fees_reminder_marks',
    sa.Column('household_id', sa.BigInteger(), nullable=False),
    sa.Column('last_sent_on', sa.Date(), nullable=False),
    sa.ForeignKeyConstraint(['household_id'], ['community_households.id'], name=op.f('fk_fees_reminder_marks_household_id_community_households'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('household_id', name=op.f('pk_fees_reminder_marks'))
    )
    op.create_table('fees_bills',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('public_id', sa.String(length=24), nullable=False),
    sa.Column('household_id', sa.BigInteger(), nullable=False),
    sa.Column('item_id', sa.BigInteger(), nullable=False),
    sa.Column('estate_id', sa.BigInteger(), nullable=False),
    sa.Column('community_id', sa.BigInteger(), nullable=False),
    sa.Column('payee_id', sa.BigInteger(), nullable=False),
    sa.Column('period', sa.Date(), nullable=False),
    sa.Column('one_off', sa.Boolean(), server_default=sa.text('false'), nullable=False),
    sa.Column('title', sa.String(length=100), nullable=False),
    sa.Column('quantity', sa.Numeric(precision=14, scale=2), nullable=True),
    sa.Column('months', sa.SmallInteger(), server_default='1', nullable=False),
    sa.Column('rate_centifen', sa.BigInteger(), nullable=True),
    sa.Column('meter_reading_id', sa.BigInteger(), nullable=True),
    sa.Column('amount_fen', sa.BigInteger(), nullable=False),
    sa.Column('discount_fen', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('due_on', sa.Date(), nullable=False),
    sa.Column('late_fee_bps_per_day', sa.Integer(), server_default='0', nullable=False),
    sa.Column('late_fee_cap_bps', sa.Integer(), server_default='0', nullable=False),
    sa.Column('late_fee_waived', sa.Boolean(), server_default=sa.text('false'), nullable=False),
    sa.Column('status', sa.Enum('unpaid', 'paid', 'waived', 'cancelled', name='billstatus', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('paid_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('paid_principal_fen', sa.BigInteger(), nullable=True),
    sa.Column('paid_late_fee_fen', sa.BigInteger(), nullable=True),
    sa.Column('fee_order_id', sa.BigInteger(), nullable=True),
    sa.Column('run_id', sa.BigInteger(), nullable=True),
    sa.Column('created_by_user_id', sa.BigInteger(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("(status = 'paid') = (paid_at IS NOT NULL) AND (paid_at IS NULL) = (paid_principal_fen IS NULL) AND (paid_at IS NULL) = (paid_late_fee_fen IS NULL)", name=op.f('ck_fees_bills_paid_complete')),
    sa.CheckConstraint("status <> 'waived' OR discount_fen = amount_fen", name=op.f('ck_fees_bills_waived_means_nothing_due')),
    sa.CheckConstraint('amount_fen > 0', name=op.f('ck_fees_bills_amount_positive')),
    sa.CheckConstraint('discount_fen >= 0 AND discount_fen <= amount_fen', name=op.f('ck_fees_bills_discount_within_amount')),
    sa.CheckConstraint('extract(day from period) = 1', name=op.f('ck_fees_bills_period_first_day')),
    sa.ForeignKeyConstraint(['created_by_user_id'], ['accounts_users.id'], name=op.f('fk_fees_bills_created_by_user_id_accounts_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['fee_order_id'], ['fees_orders.id'], name=op.f('fk_fees_bills_fee_order_id_fees_orders'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['household_id'], ['community_households.id'], name=op.f('fk_fees_bills_household_id_community_households'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['item_id'], ['fees_items.id'], name=op.f('fk_fees_bills_item_id_fees_items'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['meter_reading_id'], ['fees_meter_readings.id'], name=op.f('fk_fees_bills_meter_reading_id_fees_meter_readings'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['payee_id'], ['payments_payees.id'], name=op.f('fk_fees_bills_payee_id_payments_payees'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['run_id'], ['fees_billing_runs.id'], name=op.f('fk_fees_bills_run_id_fees_billing_runs'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_fees_bills')),
    sa.UniqueConstraint('public_id', name=op.f('uq_fees_bills_public_id'))
    )
    op.create_index(op.f('ix_fees_bills_community_id'), 'fees_bills', ['community_id'], unique=False)
    op.create_index('ix_fees_bills_estate_period', 'fees_bills', ['estate_id', 'period'], unique=False)
    op.create_index('ix_fees_bills_household_status', 'fees_bills', ['household_id', 'status'], unique=False)
    op.create_index(op.f('ix_fees_bills_item_id'), 'fees_bills', ['item_id'], unique=False)
    op.create_index('uq_fees_bills_household_item_period', 'fees_bills', ['household_id', 'item_id', 'period'], unique=True, postgresql_where=sa.text('NOT one_off'))
    op.create_table('fees_receipts',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('public_id', sa.String(length=24), nullable=False),
    sa.Column('number', sa.String(length=32), nullable=False),
    sa.Column('estate_id', sa.BigInteger(), nullable=False),
    sa.Column('year', sa.SmallInteger(), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('fee_order_id', sa.BigInteger(), nullable=False),
    sa.Column('household_id', sa.BigInteger(), nullable=False),
    sa.Column('community_id', sa.BigInteger(), nullable=False),
    sa.Column('payee_id', sa.BigInteger(), nullable=False),
    sa.Column('payer_user_id', sa.BigInteger(), nullable=False),
    sa.Column('document', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('principal_fen', sa.BigInteger(), nullable=False),
    sa.Column('late_fee_fen', sa.BigInteger(), nullable=False),
    sa.Column('total_fen', sa.BigInteger(), nullable=False),
    sa.Column('refunded_fen', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('payment_public_id', sa.String(length=24), nullable=False),
    sa.Column('out_trade_no', sa.String(length=32), nullable=False),
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('paid_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('issued_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint('seq > 0', name=op.f('ck_fees_receipts_seq_positive')),
    sa.ForeignKeyConstraint(['estate_id'], ['community_estates.id'], name=op.f('fk_fees_receipts_estate_id_community_estates'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['fee_order_id'], ['fees_orders.id'], name=op.f('fk_fees_receipts_fee_order_id_fees_orders'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['household_id'], ['community_households.id'], name=op.f('fk_fees_receipts_household_id_community_households'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['payee_id'], ['payments_payees.id'], name=op.f('fk_fees_receipts_payee_id_payments_payees'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['payer_user_id'], ['accounts_users.id'], name=op.f('fk_fees_receipts_payer_user_id_accounts_users'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_fees_receipts')),
    sa.UniqueConstraint('estate_id', 'year', 'seq', name=op.f('uq_fees_receipts_estate_id_year_seq')),
    sa.UniqueConstraint('fee_order_id', name=op.f('uq_fees_receipts_fee_order_id')),
    sa.UniqueConstraint('public_id', name=op.f('uq_fees_receipts_public_id'))
    )
    op.create_index(op.f('ix_fees_receipts_household_id'), 'fees_receipts', ['household_id'], unique=False)
    op.create_index(op.f('ix_fees_receipts_payer_user_id'), 'fees_receipts', ['payer_user_id'], unique=False)
    op.create_table('fees_bill_adjustments',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('public_id', sa.String(length=24), nullable=False),
    sa.Column('bill_id', sa.BigInteger(), nullable=False),
    sa.Column('kind', sa.Enum('discount', 'waive_late_fee', 'cancel', name='adjustmentkind', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('amount_fen', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('reason', sa.String(length=200), nullable=False),
    sa.Column('by_user_id', sa.BigInteger(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint('amount_fen >= 0', name=op.f('ck_fees_bill_adjustments_amount_not_negative')),
    sa.ForeignKeyConstraint(['bill_id'], ['fees_bills.id'], name=op.f('fk_fees_bill_adjustments_bill_id_fees_bills'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['by_user_id'], ['accounts_users.id'], name=op.f('fk_fees_bill_adjustments_by_user_id_accounts_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_fees_bill_adjustments')),
    sa.UniqueConstraint('public_id', name=op.f('uq_fees_bill_adjustments_public_id'))
    )
    op.create_index(op.f('ix_fees_bill_adjustments_bill_id'), 'fees_bill_adjustments', ['bill_id'], unique=False)
    op.create_table('fees_order_lines',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('order_id', sa.BigInteger(), nullable=False),
    sa.Column('bill_id', sa.BigInteger(), nullable=False),
    sa.Column('principal_fen', sa.BigInteger(), nullable=False),
    sa.Column('late_fee_fen', sa.BigInteger(), nullable=False),
    sa.Column('discount_fen', sa.BigInteger(), nullable=False),
    sa.Column('late_fee_waived', sa.Boolean(), nullable=False),
    sa.Column('state', sa.Enum('open', 'paid', 'released', name='linestate', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.CheckConstraint('principal_fen >= 0 AND late_fee_fen >= 0', name=op.f('ck_fees_order_lines_amounts_not_negative')),
    sa.ForeignKeyConstraint(['bill_id'], ['fees_bills.id'], name=op.f('fk_fees_order_lines_bill_id_fees_bills'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['order_id'], ['fees_orders.id'], name=op.f('fk_fees_order_lines_order_id_fees_orders'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_fees_order_lines')),
    sa.UniqueConstraint('order_id', 'bill_id', name=op.f('uq_fees_order_lines_order_id_bill_id'))
    )
    op.create_index(op.f('ix_fees_order_lines_order_id'), 'fees_order_lines', ['order_id'], unique=False)
    op.create_index('uq_fees_order_lines_live_bill', 'fees_order_lines', ['bill_id'], unique=True, postgresql_where=sa.text("state IN ('open', 'paid')"))


def downgrade():
    op.drop_index('uq_fees_order_lines_live_bill', table_name='fees_order_lines', postgresql_where=sa.text("state IN ('open', 'paid')"))
    op.drop_index(op.f('ix_fees_order_lines_order_id'), table_name='fees_order_lines')
    op.drop_table('fees_order_lines')
    op.drop_index(op.f('ix_fees_bill_adjustments_bill_id'), table_name='fees_bill_adjustments')
    op.drop_table('fees_bill_adjustments')
    op.drop_index(op.f('ix_fees_receipts_payer_user_id'), table_name='fees_receipts')
    op.drop_index(op.f('ix_fees_receipts_household_id'), table_name='fees_receipts')
    op.drop_table('fees_receipts')
    op.drop_index('uq_fees_bills_household_item_period', table_name='fees_bills', postgresql_where=sa.text('NOT one_off'))
    op.drop_index(op.f('ix_fees_bills_item_id'), table_name='fees_bills')
    op.drop_index('ix_fees_bills_household_status', table_name='fees_bills')
    op.drop_index('ix_fees_bills_estate_period', table_name='fees_bills')
    op.drop_index(op.f('ix_fees_bills_community_id'), table_name='fees_bills')
    op.drop_table('fees_bills')
    op.drop_table('fees_reminder_marks')
    op.drop_index(op.f('ix_fees_orders_created_by_user_id'), table_name='fees_orders')
    op.drop_table('fees_orders')
    op.drop_index(op.f('ix_fees_meter_readings_item_id'), table_name='fees_meter_readings')
    op.drop_table('fees_meter_readings')
    op.drop_index(op.f('ix_fees_arrears_reminders_household_id'), table_name='fees_arrears_reminders')
    op.drop_index(op.f('ix_fees_arrears_reminders_estate_id'), table_name='fees_arrears_reminders')
    op.drop_table('fees_arrears_reminders')
    op.drop_table('fees_receipt_counters')
    op.drop_index(op.f('ix_fees_items_payee_id'), table_name='fees_items')
    op.drop_index(op.f('ix_fees_items_estate_id'), table_name='fees_items')
    op.drop_index(op.f('ix_fees_items_community_id'), table_name='fees_items')
    op.drop_table('fees_items')
    op.drop_index(op.f('ix_fees_billing_runs_estate_id'), table_name='fees_billing_runs')
    op.drop_table('fees_billing_runs')
