"""Add marketplace smart lockers: cabinets, cells, codes, device nonces and faults; order statuses out_for_delivery,
delivered, uncollected; the vendor's uncollected-order refund policy

Revision ID: 69ccf77fa14d
Revises: 3b8e51c0d9a2
Create Date: 2026-12-03 08:50:00

"""
from alembic import op
import sqlalchemy as sa

# revision identifiers, used by Alembic.
revision = '69ccf77fa14d'
down_revision = '3b8e51c0d9a2'
branch_labels = None
depends_on = None

OLD_STATUSES = ('pending_payment', 'paid', 'accepted', 'preparing', 'ready', 'completed', 'cancelled', 'expired',
                'rejected')
NEW_STATUSES = OLD_STATUSES + ('out_for_delivery', 'delivered', 'uncollected')


def _order_statuses(values):
    listed = ", ".join(f"'{value}'" for value in values)
    op.drop_constraint(op.f('ck_marketplace_orders_orderstatus'), 'marketplace_orders', type_='check')
    op.create_check_constraint(op.f('ck_marketplace_orders_orderstatus'), 'marketplace_orders', f"status IN ({listed})")


def upgrade():
    _order_statuses(NEW_STATUSES)
    op.add_column('marketplace_vendors', sa.Column('uncollected_refund_bps', sa.Integer(), server_default='0', nullable=False))
    op.create_check_constraint(op.f('ck_marketplace_vendors_uncollected_refund_bps_range'), 'marketplace_vendors',
                               'uncollected_refund_bps BETWEEN 0 AND 10000')

    op.create_table('marketplace_lockers',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('public_id', sa.String(length=24), nullable=False),
    sa.Column('estate_id', sa.BigInteger(), nullable=False),
    sa.Column('community_id', sa.BigInteger(), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('secret_encrypted', sa.LargeBinary(), nullable=False),
    sa.Column('status', sa.Enum('active', 'out_of_service', name='lockerstatus', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('status_note', sa.String(length=200), nullable=True),
    sa.Column('last_heartbeat_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('wrong_codes', sa.Integer(), server_default='0', nullable=False),
    sa.Column('wrong_codes_since', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint('wrong_codes >= 0', name=op.f('ck_marketplace_lockers_wrong_codes_not_negative')),
    sa.ForeignKeyConstraint(['estate_id', 'community_id'], ['community_estates.id', 'community_estates.community_id'], name=op.f('fk_marketplace_lockers_estate_id_community_estates'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_marketplace_lockers')),
    sa.UniqueConstraint('estate_id', 'name', name=op.f('uq_marketplace_lockers_estate_id_name')),
    sa.UniqueConstraint('public_id', name=op.f('uq_marketplace_lockers_public_id'))
    )
    op.create_index(op.f('ix_marketplace_lockers_community_id'), 'marketplace_lockers', ['community_id'], unique=False)
    op.create_index(op.f('ix_marketplace_lockers_estate_id'), 'marketplace_lockers', ['estate_id'], unique=False)

    op.create_table('marketplace_locker_cells',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('locker_id', sa.BigInteger(), nullable=False),
    sa.Column('number', sa.SmallInteger(), nullable=False),
    sa.Column('size', sa.Enum('S', 'M', 'L', name='cellsize', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('zone', sa.Enum('ambient', 'chilled', 'frozen', name='storagezone', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('state', sa.Enum('free', 'reserved', 'occupied', 'awaiting_retrieval', 'out_of_service', name='cellstate', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('order_id', sa.BigInteger(), nullable=True),
    sa.Column('reserved_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('deposited_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('deadline_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('max_temp_c', sa.Numeric(precision=4, scale=1), nullable=True),
    sa.Column('temperature_c', sa.Numeric(precision=4, scale=1), nullable=True),
    sa.Column('temperature_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('door_open', sa.Boolean(), server_default=sa.false(), nullable=False),
    sa.Column('state_note', sa.String(length=200), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint('number > 0', name=op.f('ck_marketplace_locker_cells_number_positive')),
    sa.CheckConstraint("CASE state WHEN 'free' THEN order_id IS NULL WHEN 'out_of_service' THEN true ELSE order_id IS NOT NULL END", name=op.f('ck_marketplace_locker_cells_order_matches_state')),
    sa.CheckConstraint("state <> 'reserved' OR reserved_until IS NOT NULL", name=op.f('ck_marketplace_locker_cells_reserved_has_deadline')),
    sa.ForeignKeyConstraint(['locker_id'], ['marketplace_lockers.id'], name=op.f('fk_marketplace_locker_cells_locker_id_marketplace_lockers'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['order_id'], ['marketplace_orders.id'], name=op.f('fk_marketplace_locker_cells_order_id_marketplace_orders'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_marketplace_locker_cells')),
    sa.UniqueConstraint('locker_id', 'number', name=op.f('uq_marketplace_locker_cells_locker_id_number'))
    )
    op.create_index(op.f('ix_marketplace_locker_cells_order_id'), 'marketplace_locker_cells', ['order_id'], unique=False)
    op.create_index('ix_marketplace_locker_cells_pick', 'marketplace_locker_cells', ['locker_id', 'zone', 'state'], unique=False)

    op.create_table('marketplace_locker_codes',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('locker_id', sa.BigInteger(), nullable=False),
    sa.Column('order_id', sa.BigInteger(), nullable=False),
    sa.Column('kind', sa.Enum('courier', 'pickup', 'retrieval', name='lockercodekind', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('code_hash', sa.LargeBinary(length=32), nullable=False),
    sa.Column('code_encrypted', sa.LargeBinary(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('used_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['locker_id'], ['marketplace_lockers.id'], name=op.f('fk_marketplace_locker_codes_locker_id_marketplace_lockers'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['order_id'], ['marketplace_orders.id'], name=op.f('fk_marketplace_locker_codes_order_id_marketplace_orders'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_marketplace_locker_codes'))
    )
    op.create_index(op.f('ix_marketplace_locker_codes_order_id'), 'marketplace_locker_codes', ['order_id'], unique=False)
    op.create_index('uq_marketplace_locker_codes_active', 'marketplace_locker_codes', ['locker_id', 'code_hash'], unique=True, postgresql_where=sa.text('used_at IS NULL AND revoked_at IS NULL'))
    op.create_index('uq_marketplace_locker_codes_one_per_kind', 'marketplace_locker_codes', ['order_id', 'kind'], unique=True, postgresql_where=sa.text('used_at IS NULL AND revoked_at IS NULL'))

    op.create_table('marketplace_locker_nonces',
    sa.Column('locker_id', sa.BigInteger(), nullable=False),
    sa.Column('nonce', sa.String(length=64), nullable=False),
    sa.Column('seen_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['locker_id'], ['marketplace_lockers.id'], name=op.f('fk_marketplace_locker_nonces_locker_id_marketplace_lockers'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('locker_id', 'nonce', name=op.f('pk_marketplace_locker_nonces'))
    )
    op.create_index(op.f('ix_marketplace_locker_nonces_seen_at'), 'marketplace_locker_nonces', ['seen_at'], unique=False)

    op.create_table('marketplace_locker_faults',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('locker_id', sa.BigInteger(), nullable=False),
    sa.Column('cell_number', sa.SmallInteger(), nullable=True),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('detail', sa.String(length=500), nullable=True),
    sa.Column('reported_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['locker_id'], ['marketplace_lockers.id'], name=op.f('fk_marketplace_locker_faults_locker_id_marketplace_lockers'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_marketplace_locker_faults'))
    )
    op.create_index(op.f('ix_marketplace_locker_faults_locker_id'), 'marketplace_locker_faults', ['locker_id'], unique=False)


def downgrade():
    op.drop_index(op.f('ix_marketplace_locker_faults_locker_id'), table_name='marketplace_locker_faults')
    op.drop_table('marketplace_locker_faults')
    op.drop_index(op.f('ix_marketplace_locker_nonces_seen_at'), table_name='marketplace_locker_nonces')
    op.drop_table('marketplace_locker_nonces')
    op.drop_index('uq_marketplace_locker_codes_one_per_kind', table_name='marketplace_locker_codes', postgresql_where=sa.text('used_at IS NULL AND revoked_at IS NULL'))
    op.drop_index('uq_marketplace_locker_codes_active', table_name='marketplace_locker_codes', postgresql_where=sa.text('used_at IS NULL AND revoked_at IS NULL'))
    op.drop_index(op.f('ix_marketplace_locker_codes_order_id'), table_name='marketplace_locker_codes')
    op.drop_table('marketplace_locker_codes')
    op.drop_index('ix_marketplace_locker_cells_pick', table_name='marketplace_locker_cells')
    op.drop_index(op.f('ix_marketplace_locker_cells_order_id'), table_name='marketplace_locker_cells')
    op.drop_table('marketplace_locker_cells')
    op.drop_index(op.f('ix_marketplace_lockers_estate_id'), table_name='marketplace_lockers')
    op.drop_index(op.f('ix_marketplace_lockers_community_id'), table_name='marketplace_lockers')
    op.drop_table('marketplace_lockers')
    op.drop_constraint(op.f('ck_marketplace_vendors_uncollected_refund_bps_range'), 'marketplace_vendors', type_='check')
    op.drop_column('marketplace_vendors', 'uncollected_refund_bps')
    op.execute("UPDATE marketplace_orders SET status = 'completed' WHERE status IN ('out_for_delivery', 'delivered', 'uncollected')")
    _order_statuses(OLD_STATUSES)
