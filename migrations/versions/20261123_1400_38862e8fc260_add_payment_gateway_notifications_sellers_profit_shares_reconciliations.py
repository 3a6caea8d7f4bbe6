"""Add payment gateway tables: notifications received, Alipay sellers, profit shares and reconciliation reports

Revision ID: 38862e8fc260
Revises: b7e41c2a9d05
Create Date: 2026-11-23 14:00:00.000000

"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

# revision identifiers, used by Alembic.
revision = '38862e8fc260'
down_revision = 'b7e41c2a9d05'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('payments_gateway_notifications',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('gateway', sa.String(length=16), nullable=False),
    sa.Column('notify_id', sa.String(length=128), nullable=True),
    sa.Column('event_type', sa.String(length=64), nullable=True),
    sa.Column('out_trade_no', sa.String(length=64), nullable=True),
    sa.Column('out_refund_no', sa.String(length=64), nullable=True),
    sa.Column('verdict', sa.Enum('accepted', 'rejected', name='verdict', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('reason', sa.String(length=64), nullable=True),
    sa.Column('detail', sa.Text(), nullable=True),
    sa.Column('payload', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("verdict = 'rejected' OR notify_id IS NOT NULL", name=op.f('ck_payments_gateway_notifications_accepted_has_id')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_payments_gateway_notifications'))
    )
    op.create_index(op.f('ix_payments_gateway_notifications_out_trade_no'), 'payments_gateway_notifications', ['out_trade_no'], unique=False)
    # Accepted notifications are unique per gateway and notify id: a redelivery, even concurrent, acts once.
    op.create_index('uq_payments_gateway_notifications_accepted', 'payments_gateway_notifications', ['gateway', 'notify_id'], unique=True, postgresql_where=sa.text("verdict = 'accepted'"))
    op.create_index('ix_payments_gateway_notifications_rejected', 'payments_gateway_notifications', ['received_at'], unique=False, postgresql_where=sa.text("verdict = 'rejected'"))
    op.create_table('payments_gateway_alipay_sellers',
    sa.Column('payee_id', sa.BigInteger(), nullable=False),
    sa.Column('token_sha256', sa.String(length=64), nullable=False),
    sa.Column('seller_id', sa.String(length=32), nullable=False),
    sa.Column('auth_app_id', sa.String(length=32), nullable=True),
    sa.Column('checked_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['payee_id'], ['payments_payees.id'], name=op.f('fk_payments_gateway_alipay_sellers_payee_id_payments_payees'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('payee_id', name=op.f('pk_payments_gateway_alipay_sellers'))
    )
    op.create_index(op.f('ix_payments_gateway_alipay_sellers_seller_id'), 'payments_gateway_alipay_sellers', ['seller_id'], unique=False)
    op.create_table('payments_gateway_profit_shares',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('payment_id', sa.BigInteger(), nullable=False),
    sa.Column('out_order_no', sa.String(length=32), nullable=False),
    sa.Column('amount_fen', sa.BigInteger(), nullable=False),
    sa.Column('status', sa.Enum('pending', 'processing', 'finished', 'skipped', 'failed', name='sharestatus', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('attempts', sa.Integer(), server_default='0', nullable=False),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('channel_order_id', sa.String(length=64), nullable=True),
    sa.Column('raw', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('requested_by_user_id', sa.BigInteger(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("out_order_no ~ '^[A-Za-z0-9_-]{1,32}$'", name=op.f('ck_payments_gateway_profit_shares_out_order_no_format')),
    sa.CheckConstraint('amount_fen >= 0', name=op.f('ck_payments_gateway_profit_shares_amount_not_negative')),
    sa.ForeignKeyConstraint(['payment_id'], ['payments_payments.id'], name=op.f('fk_payments_gateway_profit_shares_payment_id_payments_payments'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['requested_by_user_id'], ['accounts_users.id'], name=op.f('fk_payments_gateway_profit_shares_requested_by_user_id_accounts_users'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_payments_gateway_profit_shares')),
    sa.UniqueConstraint('out_order_no', name=op.f('uq_payments_gateway_profit_shares_out_order_no')),
    # One share per payment: the guard that makes profit sharing happen once.
    sa.UniqueConstraint('payment_id', name=op.f('uq_payments_gateway_profit_shares_payment_id'))
    )
    op.create_table('payments_gateway_reconciliations',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('gateway', sa.String(length=16), nullable=False),
    sa.Column('bill_date', sa.Date(), nullable=False),
    sa.Column('merchant', sa.String(length=32), server_default='', nullable=False),
    sa.Column('status', sa.Enum('matched', 'mismatched', 'failed', name='reportstatus', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('lines', sa.Integer(), server_default='0', nullable=False),
    sa.Column('matched', sa.Integer(), server_default='0', nullable=False),
    sa.Column('mismatches', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_payments_gateway_reconciliations')),
    sa.UniqueConstraint('gateway', 'bill_date', 'merchant', name=op.f('uq_payments_gateway_reconciliations_gateway_bill_date_merchant'))
    )


def downgrade():
    op.drop_table('payments_gateway_reconciliations')
    op.drop_table('payments_gateway_profit_shares')
    op.drop_index(op.f('ix_payments_gateway_alipay_sellers_seller_id'), table_name='payments_gateway_alipay_sellers')
    op.drop_table('payments_gateway_alipay_sellers')
    op.drop_index('ix_payments_gateway_notifications_rejected', table_name='payments_gateway_notifications', postgresql_where=sa.text("verdict = 'rejected'"))
    op.drop_index('uq_payments_gateway_notifications_accepted', table_name='payments_gateway_notifications', postgresql_where=sa.text("verdict = 'accepted'"))
    op.drop_index(op.f('ix_payments_gateway_notifications_out_trade_no'), table_name='payments_gateway_notifications')
    op.drop_table('payments_gateway_notifications')
