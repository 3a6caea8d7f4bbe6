"""Add payments: payees, payments with their items, captures (money received once per channel transaction) and refunds

Revision ID: b7e41c2a9d05
Revises: 89700ba83367
Create Date: 2026-11-23 13:30:00.000000

"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

# revision identifiers, used by Alembic.
revision = 'b7e41c2a9d05'
down_revision = '89700ba83367'
branch_labels = None
depends_on = None


def _channel():
    return sa.Enum('sandbox', 'wechatpay', 'alipay', name='paymentchannel', native_enum=False, create_constraint=True, length=32)


def upgrade():
    op.create_table('payments_payees',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('public_id', sa.String(length=24), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('kind', sa.Enum('property_company', 'vendor', 'care_provider', 'community', 'other', name='payeekind', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('wechat_sub_mchid', sa.String(length=32), nullable=True),
    sa.Column('alipay_app_auth_token_ciphertext', sa.LargeBinary(), nullable=True),
    sa.Column('commission_bps', sa.Integer(), server_default='0', nullable=False),
    sa.Column('is_active', sa.Boolean(), server_default=sa.text('true'), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint('commission_bps >= 0 AND commission_bps <= 10000', name=op.f('ck_payments_payees_commission_bps_range')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_payments_payees')),
    sa.UniqueConstraint('public_id', name=op.f('uq_payments_payees_public_id')),
    sa.UniqueConstraint('wechat_sub_mchid', name=op.f('uq_payments_payees_wechat_sub_mchid'))
    )
    op.create_table('payments_payments',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('public_id', sa.String(length=24), nullable=False),
    sa.Column('out_trade_no', sa.String(length=32), nullable=False),
    sa.Column('kind', sa.String(length=64), nullable=False),
    sa.Column('payer_user_id', sa.BigInteger(), nullable=False),
    sa.Column('payee_id', sa.BigInteger(), nullable=False),
    sa.Column('channel', _channel(), nullable=False),
    sa.Column('amount_fen', sa.BigInteger(), nullable=False),
    sa.Column('status', sa.Enum('created', 'closed', 'paid', 'paid_unapplied', name='paymentstatus', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('paid_fen', sa.BigInteger(), nullable=True),
    sa.Column('paid_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('channel_txn_id', sa.String(length=64), nullable=True),
    sa.Column('applied_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('late_reason', sa.Enum('payment_closed', 'payable_unavailable', 'amount_mismatch', name='latereason', native_enum=False, create_constraint=True, length=32), nullable=True),
    sa.Column('refunded_fen', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('apply_attempts', sa.Integer(), server_default='0', nullable=False),
    sa.Column('apply_error', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("(status IN ('paid', 'paid_unapplied')) = (paid_at IS NOT NULL) AND (paid_at IS NULL) = (paid_fen IS NULL) AND (paid_at IS NULL) = (channel_txn_id IS NULL)", name=op.f('ck_payments_payments_paid_complete')),
    sa.CheckConstraint("late_reason IS NULL OR status = 'paid'", name=op.f('ck_payments_payments_late_only_when_paid')),
    sa.CheckConstraint("out_trade_no ~ '^[A-Za-z0-9_-]{1,32}$'", name=op.f('ck_payments_payments_out_trade_no_format')),
    sa.CheckConstraint('amount_fen > 0', name=op.f('ck_payments_payments_amount_positive')),
    sa.CheckConstraint('refunded_fen >= 0 AND refunded_fen <= coalesce(paid_fen, 0)', name=op.f('ck_payments_payments_refund_within_paid')),
    sa.ForeignKeyConstraint(['payee_id'], ['payments_payees.id'], name=op.f('fk_payments_payments_payee_id_payments_payees'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['payer_user_id'], ['accounts_users.id'], name=op.f('fk_payments_payments_payer_user_id_accounts_users'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_payments_payments')),
    sa.UniqueConstraint('channel', 'channel_txn_id', name=op.f('uq_payments_payments_channel_channel_txn_id')),
    sa.UniqueConstraint('out_trade_no', name=op.f('uq_payments_payments_out_trade_no')),
    sa.UniqueConstraint('public_id', name=op.f('uq_payments_payments_public_id'))
    )
    op.create_index(op.f('ix_payments_payments_payee_id'), 'payments_payments', ['payee_id'], unique=False)
    op.create_index('ix_payments_payments_payer_created', 'payments_payments', ['payer_user_id', 'created_at', 'id'], unique=False)
    op.create_index('ix_payments_payments_unapplied', 'payments_payments', ['paid_at'], unique=False, postgresql_where=sa.text("status = 'paid_unapplied'"))
    op.create_table('payments_captures',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('payment_id', sa.BigInteger(), nullable=False),
    sa.Column('channel', _channel(), nullable=False),
    sa.Column('channel_txn_id', sa.String(length=64), nullable=False),
    sa.Column('amount_fen', sa.BigInteger(), nullable=False),
    sa.Column('paid_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('raw', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('counted', sa.Boolean(), server_default=sa.text('true'), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['payment_id'], ['payments_payments.id'], name=op.f('fk_payments_captures_payment_id_payments_payments'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_payments_captures')),
    sa.UniqueConstraint('channel', 'channel_txn_id', name=op.f('uq_payments_captures_channel_channel_txn_id'))
    )
    op.create_index(op.f('ix_payments_captures_payment_id'), 'payments_captures', ['payment_id'], unique=False)
    op.create_table('payments_items',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('payment_id', sa.BigInteger(), nullable=False),
    sa.Column('kind', sa.String(length=64), nullable=False),
    sa.Column('payable_id', sa.String(length=64), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('amount_fen', sa.BigInteger(), nullable=False),
    sa.Column('subject_resident_id', sa.BigInteger(), nullable=True),
    sa.Column('state', sa.Enum('open', 'closed', 'pending', 'applied', 'rejected', 'refunded', name='itemstate', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.CheckConstraint('amount_fen > 0', name=op.f('ck_payments_items_amount_positive')),
    sa.ForeignKeyConstraint(['payment_id'], ['payments_payments.id'], name=op.f('fk_payments_items_payment_id_payments_payments'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['subject_resident_id'], ['accounts_residents.id'], name=op.f('fk_payments_items_subject_resident_id_accounts_residents'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_payments_items')),
    sa.UniqueConstraint('payment_id', 'payable_id', name=op.f('uq_payments_items_payment_id_payable_id'))
    )
    op.create_index(op.f('ix_payments_items_subject_resident_id'), 'payments_items', ['subject_resident_id'], unique=False)
    # One live payment per payable: open (waiting for money), pending (money not applied yet) or applied.
    op.create_index('uq_payments_items_live_payable', 'payments_items', ['kind', 'payable_id'], unique=True, postgresql_where=sa.text("state IN ('open', 'pending', 'applied')"))
    op.create_table('payments_refunds',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('public_id', sa.String(length=24), nullable=False),
    sa.Column('payment_id', sa.BigInteger(), nullable=False),
    sa.Column('key', sa.String(length=128), nullable=False),
    sa.Column('out_refund_no', sa.String(length=32), nullable=False),
    sa.Column('amount_fen', sa.BigInteger(), nullable=False),
    sa.Column('reason', sa.String(length=200), nullable=False),
    sa.Column('status', sa.Enum('pending', 'succeeded', 'failed', name='refundstatus', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('attempts', sa.Integer(), server_default='0', nullable=False),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('channel_refund_id', sa.String(length=64), nullable=True),
    sa.Column('requested_by_user_id', sa.BigInteger(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('succeeded_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('failed_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("out_refund_no ~ '^[A-Za-z0-9_-]{1,32}$'", name=op.f('ck_payments_refunds_out_refund_no_format')),
    sa.CheckConstraint('amount_fen > 0', name=op.f('ck_payments_refunds_amount_positive')),
    sa.CheckConstraint('attempts >= 0', name=op.f('ck_payments_refunds_attempts_not_negative')),
    sa.ForeignKeyConstraint(['payment_id'], ['payments_payments.id'], name=op.f('fk_payments_refunds_payment_id_payments_payments'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['requested_by_user_id'], ['accounts_users.id'], name=op.f('fk_payments_refunds_requested_by_user_id_accounts_users'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_payments_refunds')),
    sa.UniqueConstraint('out_refund_no', name=op.f('uq_payments_refunds_out_refund_no')),
    sa.UniqueConstraint('payment_id', 'key', name=op.f('uq_payments_refunds_payment_id_key')),
    sa.UniqueConstraint('public_id', name=op.f('uq_payments_refunds_public_id'))
    )
    op.create_index('ix_payments_refunds_failed', 'payments_refunds', ['failed_at'], unique=False, postgresql_where=sa.text("status = 'failed'"))
    op.create_index(op.f('ix_payments_refunds_payment_id'), 'payments_refunds', ['payment_id'], unique=False)


def downgrade():
    op.drop_index(op.f('ix_payments_refunds_payment_id'), table_name='payments_refunds')
    op.drop_index('ix_payments_refunds_failed', table_name='payments_refunds', postgresql_where=sa.text("status = 'failed'"))
    op.drop_table('payments_refunds')
    op.drop_index('uq_payments_items_live_payable', table_name='payments_items', postgresql_where=sa.text("state IN ('open', 'pending', 'applied')"))
    op.drop_index(op.f('ix_payments_items_subject_resident_id'), table_name='payments_items')
    op.drop_table('payments_items')
    op.drop_index(op.f('ix_payments_captures_payment_id'), table_name='payments_captures')
    op.drop_table('payments_captures')
    op.drop_index('ix_payments_payments_unapplied', table_name='payments_payments', postgresql_where=sa.text("status = 'paid_unapplied'"))
    op.drop_index('ix_payments_payments_payer_created', table_name='payments_payments')
    op.drop_index(op.f('ix_payments_payments_payee_id'), table_name='payments_payments')
    op.drop_table('payments_payments')
    op.drop_table('payments_payees')
