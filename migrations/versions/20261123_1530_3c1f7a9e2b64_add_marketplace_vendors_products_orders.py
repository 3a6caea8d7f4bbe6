"""Add marketplace: vendors and the communities they serve, products, orders with their lines and steps

Revision ID: 3c1f7a9e2b64
Revises: f8dc96045de3
Create Date: 2026-11-23 15:30:00.000000

"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

# revision identifiers, used by Alembic.
revision = '3c1f7a9e2b64'
down_revision = 'f8dc96045de3'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('marketplace_vendors',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('public_id', sa.String(length=24), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('kind', sa.Enum('grocery', 'repair', 'household', 'recycling', name='vendorkind', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('licence_no', sa.String(length=32), nullable=False),
    sa.Column('food_licence_no', sa.String(length=32), nullable=True),
    sa.Column('contact_name', sa.String(length=32), nullable=False),
    sa.Column('contact_phone', sa.String(length=20), nullable=False),
    sa.Column('opening_hours', sa.String(length=64), nullable=False),
    sa.Column('payee_identity', sa.String(length=64), nullable=True),
    sa.Column('payee_id', sa.BigInteger(), nullable=True),
    sa.Column('status', sa.Enum('pending', 'approved', 'rejected', 'suspended', name='vendorstatus', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('status_note', sa.String(length=200), nullable=True),
    sa.Column('applicant_user_id', sa.BigInteger(), nullable=False),
    sa.Column('decided_by_user_id', sa.BigInteger(), nullable=True),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("kind <> 'grocery' OR food_licence_no IS NOT NULL", name=op.f('ck_marketplace_vendors_grocery_has_food_licence')),
    sa.CheckConstraint("status <> 'approved' OR payee_id IS NOT NULL", name=op.f('ck_marketplace_vendors_approved_has_payee')),
    sa.ForeignKeyConstraint(['applicant_user_id'], ['accounts_users.id'], name=op.f('fk_marketplace_vendors_applicant_user_id_accounts_users'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['decided_by_user_id'], ['accounts_users.id'], name=op.f('fk_marketplace_vendors_decided_by_user_id_accounts_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['payee_id'], ['payments_payees.id'], name=op.f('fk_marketplace_vendors_payee_id_payments_payees'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_marketplace_vendors')),
    sa.UniqueConstraint('public_id', name=op.f('uq_marketplace_vendors_public_id'))
    )
    op.create_index(op.f('ix_marketplace_vendors_applicant_user_id'), 'marketplace_vendors', ['applicant_user_id'], unique=False)
    op.create_index(op.f('ix_marketplace_vendors_payee_id'), 'marketplace_vendors', ['payee_id'], unique=False)
    op.create_table('marketplace_orders',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('public_id', sa.String(length=24), nullable=False),
    sa.Column('vendor_id', sa.BigInteger(), nullable=False),
    sa.Column('resident_id', sa.BigInteger(), nullable=False),
    sa.Column('placed_by_user_id', sa.BigInteger(), nullable=False),
    sa.Column('community_id', sa.BigInteger(), nullable=False),
    sa.Column('fulfilment', sa.Enum('locker', 'delivery', 'shop', name='fulfilment', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('window_start', sa.DateTime(timezone=True), nullable=True),
    sa.Column('window_end', sa.DateTime(timezone=True), nullable=True),
    sa.Column('note', sa.String(length=200), nullable=True),
    sa.Column('status', sa.Enum('pending_payment', 'paid', 'accepted', 'preparing', 'ready', 'completed', 'cancelled', 'expired', 'rejected', name='orderstatus', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('total_fen', sa.BigInteger(), nullable=False),
    sa.Column('refunded_fen', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('paid_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('payment_public_id', sa.String(length=24), nullable=True),
    sa.Column('stock_released_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint('refunded_fen >= 0 AND refunded_fen <= total_fen', name=op.f('ck_marketplace_orders_refunded_within_total')),
    sa.CheckConstraint('total_fen > 0', name=op.f('ck_marketplace_orders_total_positive')),
    sa.CheckConstraint('window_start IS NULL OR window_end IS NULL OR window_end > window_start', name=op.f('ck_marketplace_orders_window_ordered')),
    sa.ForeignKeyConstraint(['community_id'], ['community_regions.id'], name=op.f('fk_marketplace_orders_community_id_community_regions'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['placed_by_user_id'], ['accounts_users.id'], name=op.f('fk_marketplace_orders_placed_by_user_id_accounts_users'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['resident_id'], ['accounts_residents.id'], name=op.f('fk_marketplace_orders_resident_id_accounts_residents'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['vendor_id'], ['marketplace_vendors.id'], name=op.f('fk_marketplace_orders_vendor_id_marketplace_vendors'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_marketplace_orders')),
    sa.UniqueConstraint('public_id', name=op.f('uq_marketplace_orders_public_id'))
    )
    op.create_index(op.f('ix_marketplace_orders_community_id'), 'marketplace_orders', ['community_id'], unique=False)
    op.create_index(op.f('ix_marketplace_orders_placed_by_user_id'), 'marketplace_orders', ['placed_by_user_id'], unique=False)
    op.create_index(op.f('ix_marketplace_orders_resident_id'), 'marketplace_orders', ['resident_id'], unique=False)
    op.create_index('ix_marketplace_orders_vendor_status', 'marketplace_orders', ['vendor_id', 'status', 'id'], unique=False)
    op.create_table('marketplace_products',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('public_id', sa.String(length=24), nullable=False),
    sa.Column('vendor_id', sa.BigInteger(), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('category', sa.String(length=32), nullable=False),
    sa.Column('description', sa.String(length=500), nullable=True),
    sa.Column('unit', sa.Enum('斤', '公斤', '份', '个', '盒', '袋', '把', name='productunit', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('price_fen', sa.BigInteger(), nullable=False),
    sa.Column('original_price_fen', sa.BigInteger(), nullable=True),
    sa.Column('stock', sa.Integer(), nullable=False),
    sa.Column('low_stock_threshold', sa.Integer(), server_default='5', nullable=False),
    sa.Column('on_shelf', sa.Boolean(), server_default=sa.text('false'), nullable=False),
    sa.Column('storage_zone', sa.Enum('ambient', 'chilled', 'frozen', name='storagezone', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('shelf_life_days', sa.Integer(), nullable=True),
    sa.Column('weighed', sa.Boolean(), server_default=sa.text('false'), nullable=False),
    sa.Column('estimated_weight_g', sa.Integer(), nullable=True),
    sa.Column('image_ids', postgresql.ARRAY(sa.String(length=24)), server_default='{}', nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint('cardinality(image_ids) <= 9', name=op.f('ck_marketplace_products_at_most_nine_images')),
    sa.CheckConstraint("(weighed AND estimated_weight_g > 0 AND unit IN ('斤', '公斤')) OR (NOT weighed AND estimated_weight_g IS NULL)", name=op.f('ck_marketplace_products_weighed_fields')),
    sa.CheckConstraint('low_stock_threshold >= 0', name=op.f('ck_marketplace_products_low_stock_threshold_not_negative')),
    sa.CheckConstraint('original_price_fen IS NULL OR original_price_fen >= price_fen', name=op.f('ck_marketplace_products_original_not_lower')),
    sa.CheckConstraint('price_fen > 0', name=op.f('ck_marketplace_products_price_positive')),
    sa.CheckConstraint('shelf_life_days IS NULL OR shelf_life_days > 0', name=op.f('ck_marketplace_products_shelf_life_positive')),
    sa.CheckConstraint('stock >= 0', name=op.f('ck_marketplace_products_stock_not_negative')),
    sa.ForeignKeyConstraint(['vendor_id'], ['marketplace_vendors.id'], name=op.f('fk_marketplace_products_vendor_id_marketplace_vendors'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_marketplace_products')),
    sa.UniqueConstraint('public_id', name=op.f('uq_marketplace_products_public_id'))
    )
    op.create_index('ix_marketplace_products_browse', 'marketplace_products', ['vendor_id', 'on_shelf', 'category'], unique=False)
    op.create_index(op.f('ix_marketplace_products_vendor_id'), 'marketplace_products', ['vendor_id'], unique=False)
    op.create_table('marketplace_vendor_communities',
    sa.Column('vendor_id', sa.BigInteger(), nullable=False),
    sa.Column('community_id', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['community_id'], ['community_regions.id'], name=op.f('fk_marketplace_vendor_communities_community_id_community_regions'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['vendor_id'], ['marketplace_vendors.id'], name=op.f('fk_marketplace_vendor_communities_vendor_id_marketplace_vendors'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('vendor_id', 'community_id', name=op.f('pk_marketplace_vendor_communities'))
    )
    op.create_index(op.f('ix_marketplace_vendor_communities_community_id'), 'marketplace_vendor_communities', ['community_id'], unique=False)
    op.create_table('marketplace_order_events',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('order_id', sa.BigInteger(), nullable=False),
    sa.Column('from_status', sa.String(length=32), nullable=True),
    sa.Column('to_status', sa.String(length=32), nullable=False),
    sa.Column('actor_user_id', sa.BigInteger(), nullable=True),
    sa.Column('note', sa.String(length=200), nullable=True),
    sa.Column('at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['actor_user_id'], ['accounts_users.id'], name=op.f('fk_marketplace_order_events_actor_user_id_accounts_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['order_id'], ['marketplace_orders.id'], name=op.f('fk_marketplace_order_events_order_id_marketplace_orders'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_marketplace_order_events'))
    )
    op.create_index(op.f('ix_marketplace_order_events_order_id'), 'marketplace_order_events', ['order_id'], unique=False)
    op.create_table('marketplace_order_lines',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('order_id', sa.BigInteger(), nullable=False),
    sa.Column('product_id', sa.BigInteger(), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('unit', sa.Enum('斤', '公斤', '份', '个', '盒', '袋', '把', name='productunit', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('storage_zone', sa.Enum('ambient', 'chilled', 'frozen', name='storagezone', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('price_fen', sa.BigInteger(), nullable=False),
    sa.Column('quantity', sa.Integer(), nullable=False),
    sa.Column('weighed', sa.Boolean(), nullable=False),
    sa.Column('estimated_weight_g', sa.Integer(), nullable=True),
    sa.Column('amount_fen', sa.BigInteger(), nullable=False),
    sa.CheckConstraint('amount_fen > 0', name=op.f('ck_marketplace_order_lines_amount_positive')),
    sa.CheckConstraint('quantity > 0', name=op.f('ck_marketplace_order_lines_quantity_positive')),
    sa.ForeignKeyConstraint(['order_id'], ['marketplace_orders.id'], name=op.f('fk_marketplace_order_lines_order_id_marketplace_orders'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['product_id'], ['marketplace_products.id'], name=op.f('fk_marketplace_order_lines_product_id_marketplace_products'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_marketplace_order_lines')),
    sa.UniqueConstraint('order_id', 'product_id', name=op.f('uq_marketplace_order_lines_order_id_product_id'))
    )
    op.create_index(op.f('ix_marketplace_order_lines_product_id'), 'marketplace_order_lines', ['product_id'], unique=False)


def downgrade():
    op.drop_index(op.f('ix_marketplace_order_lines_product_id'), table_name='marketplace_order_lines')
    op.drop_table('marketplace_order_lines')
    op.drop_index(op.f('ix_marketplace_order_events_order_id'), table_name='marketplace_order_events')
    op.drop_table('marketplace_order_events')
    op.drop_index(op.f('ix_marketplace_vendor_communities_community_id'), table_name='marketplace_vendor_communities')
    op.drop_table('marketplace_vendor_communities')
    op.drop_index(op.f('ix_marketplace_products_vendor_id'), table_name='marketplace_products')
    op.drop_index('ix_marketplace_products_browse', table_name='marketplace_products')
    op.drop_table('marketplace_products')
    op.drop_index('ix_marketplace_orders_vendor_status', table_name='marketplace_orders')
    op.drop_index(op.f('ix_marketplace_orders_resident_id'), table_name='marketplace_orders')
    op.drop_index(op.f('ix_marketplace_orders_placed_by_user_id'), table_name='marketplace_orders')
    op.drop_index(op.f('ix_marketplace_orders_community_id'), table_name='marketplace_orders')
    op.drop_table('marketplace_orders')
    op.drop_index(op.f('ix_marketplace_vendors_payee_id'), table_name='marketplace_vendors')
    op.drop_index(op.f('ix_marketplace_vendors_applicant_user_id'), table_name='marketplace_vendors')
    op.drop_table('marketplace_vendors')
