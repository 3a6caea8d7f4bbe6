"""Add marketplace services: listings of repair and household-service vendors, bookings with quote lines and steps

Revision ID: 7b3e5d9a1c42
Revises: 6b1e0c4f2a93
Create Date: 2026-12-03 08:30:00.000000

"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

# revision identifiers, used by Alembic.
revision = '7b3e5d9a1c42'
down_revision = '6b1e0c4f2a93'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('marketplace_services',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('public_id', sa.String(length=24), nullable=False),
    sa.Column('vendor_id', sa.BigInteger(), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('kind', sa.Enum('plumbing', 'electrical', 'appliances', 'locks', 'cleaning', 'recycling', 'other', name='servicekind', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('description', sa.String(length=500), nullable=True),
    sa.Column('callout_fee_fen', sa.BigInteger(), nullable=False),
    sa.Column('price_notes', sa.String(length=500), nullable=True),
    sa.Column('duration_minutes', sa.Integer(), nullable=False),
    sa.Column('on_shelf', sa.Boolean(), server_default=sa.text('false'), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint('callout_fee_fen >= 0', name=op.f('ck_marketplace_services_callout_fee_not_negative')),
    sa.CheckConstraint('duration_minutes > 0', name=op.f('ck_marketplace_services_duration_positive')),
    sa.ForeignKeyConstraint(['vendor_id'], ['marketplace_vendors.id'], name=op.f('fk_marketplace_services_vendor_id_marketplace_vendors'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_marketplace_services')),
    sa.UniqueConstraint('public_id', name=op.f('uq_marketplace_services_public_id'))
    )
    op.create_index('ix_marketplace_services_browse', 'marketplace_services', ['vendor_id', 'on_shelf', 'kind'], unique=False)
    op.create_table('marketplace_service_orders',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('public_id', sa.String(length=24), nullable=False),
    sa.Column('vendor_id', sa.BigInteger(), nullable=False),
    sa.Column('service_id', sa.BigInteger(), nullable=False),
    sa.Column('resident_id', sa.BigInteger(), nullable=False),
    sa.Column('placed_by_user_id', sa.BigInteger(), nullable=False),
    sa.Column('community_id', sa.BigInteger(), nullable=False),
    sa.Column('household_id', sa.BigInteger(), nullable=False),
    sa.Column('address', sa.String(length=200), nullable=False),
    sa.Column('contact_phone', sa.String(length=20), nullable=True),
    sa.Column('description', sa.String(length=1000), nullable=False),
    sa.Column('photo_ids', postgresql.ARRAY(sa.String(length=24)), server_default='{}', nullable=False),
    sa.Column('window_start', sa.DateTime(timezone=True), nullable=False),
    sa.Column('window_end', sa.DateTime(timezone=True), nullable=False),
    sa.Column('status', sa.Enum('pending', 'accepted', 'on_the_way', 'arrived', 'quoted', 'in_progress', 'awaiting_payment', 'paid', 'rated', 'rework', 'declined', 'cancelled', 'closed', name='serviceorderstatus', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('technician_user_id', sa.BigInteger(), nullable=True),
    sa.Column('callout_fee_fen', sa.BigInteger(), nullable=False),
    sa.Column('quote_fen', sa.BigInteger(), nullable=True),
    sa.Column('amount_fen', sa.BigInteger(), nullable=True),
    sa.Column('quote_accepted', sa.Boolean(), nullable=True),
    sa.Column('decline_reason', sa.String(length=200), nullable=True),
    sa.Column('completion_photo_ids', postgresql.ARRAY(sa.String(length=24)), server_default='{}', nullable=False),
    sa.Column('completed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('paid_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('payment_public_id', sa.String(length=24), nullable=True),
    sa.Column('profit_sharing_requested_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('rework_count', sa.Integer(), server_default='0', nullable=False),
    sa.Column('reworking', sa.Boolean(), server_default=sa.text('false'), nullable=False),
    sa.Column('rating', sa.SmallInteger(), nullable=True),
    sa.Column('rating_comment', sa.String(length=500), nullable=True),
    sa.Column('rated_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("status IN ('pending', 'declined', 'cancelled') OR technician_user_id IS NOT NULL", name=op.f('ck_marketplace_service_orders_accepted_has_technician')),
    sa.CheckConstraint('amount_fen IS NULL OR amount_fen > 0', name=op.f('ck_marketplace_service_orders_amount_positive')),
    sa.CheckConstraint('callout_fee_fen >= 0', name=op.f('ck_marketplace_service_orders_callout_fee_not_negative')),
    sa.CheckConstraint('cardinality(completion_photo_ids) <= 9', name=op.f('ck_marketplace_service_orders_at_most_nine_completion_photos')),
    sa.CheckConstraint('cardinality(photo_ids) <= 9', name=op.f('ck_marketplace_service_orders_at_most_nine_photos')),
    sa.CheckConstraint('quote_fen IS NULL OR quote_fen > 0', name=op.f('ck_marketplace_service_orders_quote_positive')),
    sa.CheckConstraint('rating IS NULL OR rating BETWEEN 1 AND 5', name=op.f('ck_marketplace_service_orders_rating_range')),
    sa.CheckConstraint('window_end > window_start', name=op.f('ck_marketplace_service_orders_window_ordered')),
    sa.ForeignKeyConstraint(['community_id'], ['community_regions.id'], name=op.f('fk_marketplace_service_orders_community_id_community_regions'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['household_id'], ['community_households.id'], name=op.f('fk_marketplace_service_orders_household_id_community_households'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['placed_by_user_id'], ['accounts_users.id'], name=op.f('fk_marketplace_service_orders_placed_by_user_id_accounts_users'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['resident_id'], ['accounts_residents.id'], name=op.f('fk_marketplace_service_orders_resident_id_accounts_residents'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['service_id'], ['marketplace_services.id'], name=op.f('fk_marketplace_service_orders_service_id_marketplace_services'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['technician_user_id'], ['accounts_users.id'], name=op.f('fk_marketplace_service_orders_technician_user_id_accounts_users'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['vendor_id'], ['marketplace_vendors.id'], name=op.f('fk_marketplace_service_orders_vendor_id_marketplace_vendors'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_marketplace_service_orders')),
    sa.UniqueConstraint('public_id', name=op.f('uq_marketplace_service_orders_public_id'))
    )
    op.create_index(op.f('ix_marketplace_service_orders_community_id'), 'marketplace_service_orders', ['community_id'], unique=False)
    op.create_index(op.f('ix_marketplace_service_orders_household_id'), 'marketplace_service_orders', ['household_id'], unique=False)
    op.create_index(op.f('ix_marketplace_service_orders_placed_by_user_id'), 'marketplace_service_orders', ['placed_by_user_id'], unique=False)
    op.create_index(op.f('ix_marketplace_service_orders_resident_id'), 'marketplace_service_orders', ['resident_id'], unique=False)
    op.create_index(op.f('ix_marketplace_service_orders_service_id'), 'marketplace_service_orders', ['service_id'], unique=False)
    op.create_index('ix_marketplace_service_orders_technician', 'marketplace_service_orders', ['technician_user_id', 'id'], unique=False)
    op.create_index('ix_marketplace_service_orders_vendor_status', 'marketplace_service_orders', ['vendor_id', 'status', 'id'], unique=False)
    op.create_table('marketplace_service_order_events',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('order_id', sa.BigInteger(), nullable=False),
    sa.Column('from_status', sa.String(length=32), nullable=True),
    sa.Column('to_status', sa.String(length=32), nullable=False),
    sa.Column('actor_user_id', sa.BigInteger(), nullable=True),
    sa.Column('note', sa.String(length=200), nullable=True),
    sa.Column('at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['actor_user_id'], ['accounts_users.id'], name=op.f('fk_marketplace_service_order_events_actor_user_id_accounts_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['order_id'], ['marketplace_service_orders.id'], name=op.f('fk_marketplace_service_order_events_order_id_marketplace_service_orders'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_marketplace_service_order_events'))
    )
    op.create_index(op.f('ix_marketplace_service_order_events_order_id'), 'marketplace_service_order_events', ['order_id'], unique=False)
    op.create_table('marketplace_service_quote_lines',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('order_id', sa.BigInteger(), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('quantity', sa.Integer(), nullable=False),
    sa.Column('unit_price_fen', sa.BigInteger(), nullable=False),
    sa.Column('amount_fen', sa.BigInteger(), nullable=False),
    sa.CheckConstraint('amount_fen = unit_price_fen * quantity', name=op.f('ck_marketplace_service_quote_lines_amount_is_price_times_quantity')),
    sa.CheckConstraint('quantity > 0', name=op.f('ck_marketplace_service_quote_lines_quantity_positive')),
    sa.CheckConstraint('unit_price_fen > 0', name=op.f('ck_marketplace_service_quote_lines_unit_price_positive')),
    sa.ForeignKeyConstraint(['order_id'], ['marketplace_service_orders.id'], name=op.f('fk_marketplace_service_quote_lines_order_id_marketplace_service_orders'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_marketplace_service_quote_lines'))
    )
    op.create_index(op.f('ix_marketplace_service_quote_lines_order_id'), 'marketplace_service_quote_lines', ['order_id'], unique=False)


def downgrade():
    op.drop_table('marketplace_service_quote_lines')
    op.drop_table('marketplace_service_order_events')
    op.drop_table('marketplace_service_orders')
    op.drop_table('marketplace_services')
