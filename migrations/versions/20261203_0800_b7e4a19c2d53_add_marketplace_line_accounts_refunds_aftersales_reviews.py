"""Add marketplace settlement and after-sales: line accounts, the refunds ledger, after-sales requests, reviews

Revision ID: b7e4a19c2d53
Revises: 69ccf77fa14d
Create Date: 2026-12-03 08:00:00.000000

"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

# revision identifiers, used by Alembic.
revision = 'b7e4a19c2d53'
down_revision = '69ccf77fa14d'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('marketplace_line_accounts',
    sa.Column('line_id', sa.BigInteger(), nullable=False),
    sa.Column('order_id', sa.BigInteger(), nullable=False),
    sa.Column('paid_fen', sa.BigInteger(), nullable=False),
    sa.Column('refunded_fen', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('quantity', sa.Integer(), nullable=False),
    sa.Column('actual_weight_g', sa.Integer(), nullable=True),
    sa.Column('missing_quantity', sa.Integer(), server_default='0', nullable=False),
    sa.Column('adjusted_by_user_id', sa.BigInteger(), nullable=True),
    sa.Column('adjusted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('settled_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint('paid_fen >= 0', name=op.f('ck_marketplace_line_accounts_paid_not_negative')),
    sa.CheckConstraint('refunded_fen >= 0 AND refunded_fen <= paid_fen', name=op.f('ck_marketplace_line_accounts_refunded_within_paid')),
    sa.CheckConstraint('missing_quantity >= 0 AND missing_quantity <= quantity', name=op.f('ck_marketplace_line_accounts_missing_within_quantity')),
    sa.CheckConstraint('actual_weight_g IS NULL OR actual_weight_g > 0', name=op.f('ck_marketplace_line_accounts_actual_weight_positive')),
    sa.ForeignKeyConstraint(['line_id'], ['marketplace_order_lines.id'], name=op.f('fk_marketplace_line_accounts_line_id_marketplace_order_lines'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['order_id'], ['marketplace_orders.id'], name=op.f('fk_marketplace_line_accounts_order_id_marketplace_orders'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['adjusted_by_user_id'], ['accounts_users.id'], name=op.f('fk_marketplace_line_accounts_adjusted_by_user_id_accounts_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('line_id', name=op.f('pk_marketplace_line_accounts'))
    )
    op.create_index(op.f('ix_marketplace_line_accounts_order_id'), 'marketplace_line_accounts', ['order_id'], unique=False)
    op.create_table('marketplace_refunds',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('order_id', sa.BigInteger(), nullable=False),
    sa.Column('vendor_id', sa.BigInteger(), nullable=False),
    sa.Column('cause', sa.Enum('cancel', 'reject', 'adjustment', 'aftersales', 'arbitration', 'other', name='refundcause', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('amount_fen', sa.BigInteger(), nullable=False),
    sa.Column('key', sa.String(length=128), nullable=False),
    sa.Column('refund_public_id', sa.String(length=24), nullable=False),
    sa.Column('actor_user_id', sa.BigInteger(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint('amount_fen > 0', name=op.f('ck_marketplace_refunds_amount_positive')),
    sa.ForeignKeyConstraint(['order_id'], ['marketplace_orders.id'], name=op.f('fk_marketplace_refunds_order_id_marketplace_orders'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['vendor_id'], ['marketplace_vendors.id'], name=op.f('fk_marketplace_refunds_vendor_id_marketplace_vendors'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['actor_user_id'], ['accounts_users.id'], name=op.f('fk_marketplace_refunds_actor_user_id_accounts_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_marketplace_refunds')),
    sa.UniqueConstraint('key', name=op.f('uq_marketplace_refunds_key'))
    )
    op.create_index(op.f('ix_marketplace_refunds_order_id'), 'marketplace_refunds', ['order_id'], unique=False)
    op.create_index('ix_marketplace_refunds_vendor_created', 'marketplace_refunds', ['vendor_id', 'created_at'], unique=False)
    op.create_table('marketplace_aftersales',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('public_id', sa.String(length=24), nullable=False),
    sa.Column('order_id', sa.BigInteger(), nullable=False),
    sa.Column('line_id', sa.BigInteger(), nullable=False),
    sa.Column('vendor_id', sa.BigInteger(), nullable=False),
    sa.Column('community_id', sa.BigInteger(), nullable=False),
    sa.Column('resident_id', sa.BigInteger(), nullable=False),
    sa.Column('requested_by_user_id', sa.BigInteger(), nullable=False),
    sa.Column('status', sa.Enum('requested', 'approved', 'refused', 'escalated', 'arbitrated_refund', 'arbitrated_upheld', name='aftersalestatus', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('reason', sa.String(length=500), nullable=False),
    sa.Column('photo_ids', postgresql.ARRAY(sa.String(length=24)), server_default='{}', nullable=False),
    sa.Column('amount_fen', sa.BigInteger(), nullable=False),
    sa.Column('refunded_fen', sa.BigInteger(), nullable=True),
    sa.Column('vendor_note', sa.String(length=200), nullable=True),
    sa.Column('decided_by_user_id', sa.BigInteger(), nullable=True),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('escalation_reason', sa.String(length=500), nullable=True),
    sa.Column('escalated_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('arbitration_note', sa.String(length=200), nullable=True),
    sa.Column('arbiter_user_id', sa.BigInteger(), nullable=True),
    sa.Column('arbitrated_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint('amount_fen > 0', name=op.f('ck_marketplace_aftersales_amount_positive')),
    sa.CheckConstraint('refunded_fen IS NULL OR refunded_fen > 0', name=op.f('ck_marketplace_aftersales_refunded_positive')),
    sa.CheckConstraint('cardinality(photo_ids) <= 9', name=op.f('ck_marketplace_aftersales_at_most_nine_photos')),
    sa.ForeignKeyConstraint(['order_id'], ['marketplace_orders.id'], name=op.f('fk_marketplace_aftersales_order_id_marketplace_orders'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['line_id'], ['marketplace_order_lines.id'], name=op.f('fk_marketplace_aftersales_line_id_marketplace_order_lines'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['vendor_id'], ['marketplace_vendors.id'], name=op.f('fk_marketplace_aftersales_vendor_id_marketplace_vendors'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['community_id'], ['community_regions.id'], name=op.f('fk_marketplace_aftersales_community_id_community_regions'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['resident_id'], ['accounts_residents.id'], name=op.f('fk_marketplace_aftersales_resident_id_accounts_residents'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['requested_by_user_id'], ['accounts_users.id'], name=op.f('fk_marketplace_aftersales_requested_by_user_id_accounts_users'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['decided_by_user_id'], ['accounts_users.id'], name=op.f('fk_marketplace_aftersales_decided_by_user_id_accounts_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['arbiter_user_id'], ['accounts_users.id'], name=op.f('fk_marketplace_aftersales_arbiter_user_id_accounts_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_marketplace_aftersales')),
    sa.UniqueConstraint('public_id', name=op.f('uq_marketplace_aftersales_public_id'))
    )
    op.create_index(op.f('ix_marketplace_aftersales_order_id'), 'marketplace_aftersales', ['order_id'], unique=False)
    op.create_index('ix_marketplace_aftersales_vendor_status', 'marketplace_aftersales', ['vendor_id', 'status', 'id'], unique=False)
    op.create_index('ix_marketplace_aftersales_community_status', 'marketplace_aftersales', ['community_id', 'status', 'id'], unique=False)
    op.create_index('uq_marketplace_aftersales_open_line', 'marketplace_aftersales', ['line_id'], unique=True, postgresql_where=sa.text("status IN ('requested', 'escalated')"))
    op.create_table('marketplace_reviews',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('public_id', sa.String(length=24), nullable=False),
    sa.Column('order_id', sa.BigInteger(), nullable=False),
    sa.Column('vendor_id', sa.BigInteger(), nullable=False),
    sa.Column('resident_id', sa.BigInteger(), nullable=False),
    sa.Column('author_user_id', sa.BigInteger(), nullable=False),
    sa.Column('rating', sa.SmallInteger(), nullable=False),
    sa.Column('comment', sa.String(length=500), nullable=True),
    sa.Column('photo_ids', postgresql.ARRAY(sa.String(length=24)), server_default='{}', nullable=False),
    sa.Column('reply', sa.String(length=500), nullable=True),
    sa.Column('replied_by_user_id', sa.BigInteger(), nullable=True),
    sa.Column('replied_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint('rating BETWEEN 1 AND 5', name=op.f('ck_marketplace_reviews_rating_range')),
    sa.CheckConstraint('cardinality(photo_ids) <= 9', name=op.f('ck_marketplace_reviews_at_most_nine_photos')),
    sa.ForeignKeyConstraint(['order_id'], ['marketplace_orders.id'], name=op.f('fk_marketplace_reviews_order_id_marketplace_orders'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['vendor_id'], ['marketplace_vendors.id'], name=op.f('fk_marketplace_reviews_vendor_id_marketplace_vendors'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['resident_id'], ['accounts_residents.id'], name=op.f('fk_marketplace_reviews_resident_id_accounts_residents'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['author_user_id'], ['accounts_users.id'], name=op.f('fk_marketplace_reviews_author_user_id_accounts_users'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['replied_by_user_id'], ['accounts_users.id'], name=op.f('fk_marketplace_reviews_replied_by_user_id_accounts_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_marketplace_reviews')),
    sa.UniqueConstraint('order_id', name=op.f('uq_marketplace_reviews_order_id')),
    sa.UniqueConstraint('public_id', name=op.f('uq_marketplace_reviews_public_id'))
    )
    op.create_index('ix_marketplace_reviews_vendor', 'marketplace_reviews', ['vendor_id', 'id'], unique=False)


def downgrade():
    op.drop_index('ix_marketplace_reviews_vendor', table_name='marketplace_reviews')
    op.drop_table('marketplace_reviews')
    op.drop_index('uq_marketplace_aftersales_open_line', table_name='marketplace_aftersales', postgresql_where=sa.text("status IN ('requested', 'escalated')"))
    op.drop_index('ix_marketplace_aftersales_community_status', table_name='marketplace_aftersales')
    op.drop_index('ix_marketplace_aftersales_vendor_status', table_name='marketplace_aftersales')
    op.drop_index(op.f('ix_marketplace_aftersales_order_id'), table_name='marketplace_aftersales')
    op.drop_table('marketplace_aftersales')
    op.drop_index('ix_marketplace_refunds_vendor_created', table_name='marketplace_refunds')
    op.drop_index(op.f('ix_marketplace_refunds_order_id'), table_name='marketplace_refunds')
    op.drop_table('marketplace_refunds')
    op.drop_index(op.f('ix_marketplace_line_accounts_order_id'), table_name='marketplace_line_accounts')
    op.drop_table('marketplace_line_accounts')
