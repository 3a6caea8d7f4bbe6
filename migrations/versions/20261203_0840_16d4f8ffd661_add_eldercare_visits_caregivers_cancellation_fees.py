"""Add eldercare visits (assignment, check-in/out, rating, alerts), caregiver skills, cancellation fees and the
visit statuses of care orders

Revision ID: 16d4f8ffd661
Revises: 5a2d8c1e9f70
Create Date: 2026-12-03 08:40:00

"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

# revision identifiers, used by Alembic.
revision = '16d4f8ffd661'
down_revision = '5a2d8c1e9f70'
branch_labels = None
depends_on = None

OLD_STATUSES = ('pending_payment', 'submitted', 'accepted', 'declined', 'cancelled', 'expired')
NEW_STATUSES = OLD_STATUSES + ('in_service', 'serviced', 'delivered', 'no_show')


def _statuses(values):
    listed = ", ".join(f"'{value}'" for value in values)
    op.drop_constraint(op.f('ck_eldercare_orders_careorderstatus'), 'eldercare_orders', type_='check')
    op.create_check_constraint(op.f('ck_eldercare_orders_careorderstatus'), 'eldercare_orders', f"status IN ({listed})")


def upgrade():
    _statuses(NEW_STATUSES)
    op.add_column('eldercare_orders', sa.Column('cancelled_by', sa.Enum('family', 'provider', name='cancelledby', native_enum=False, create_constraint=True, length=32), nullable=True))
    op.add_column('eldercare_orders', sa.Column('cancellation_fee_fen', sa.BigInteger(), server_default='0', nullable=False))
    op.add_column('eldercare_orders', sa.Column('delivered_at', sa.DateTime(timezone=True), nullable=True))
    op.create_check_constraint(op.f('ck_eldercare_orders_fee_within_copay'), 'eldercare_orders', 'cancellation_fee_fen BETWEEN 0 AND copay_fen')
    op.add_column('eldercare_providers', sa.Column('cancellation_fee_fen', sa.BigInteger(), server_default='0', nullable=False))
    op.create_check_constraint(op.f('ck_eldercare_providers_fee_not_negative'), 'eldercare_providers', 'cancellation_fee_fen >= 0')
    op.add_column('eldercare_offers', sa.Column('cancellation_fee_fen', sa.BigInteger(), nullable=True))
    op.create_check_constraint(op.f('ck_eldercare_offers_fee_not_negative'), 'eldercare_offers', 'cancellation_fee_fen IS NULL OR cancellation_fee_fen >= 0')

    op.create_table('eldercare_caregivers',
    sa.Column('provider_id', sa.BigInteger(), nullable=False),
    sa.Column('user_id', sa.BigInteger(), nullable=False),
    sa.Column('skills', postgresql.ARRAY(sa.String(length=32)), server_default='{}', nullable=False),
    sa.Column('updated_by_user_id', sa.BigInteger(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['provider_id'], ['eldercare_providers.id'], name=op.f('fk_eldercare_caregivers_provider_id_eldercare_providers'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['updated_by_user_id'], ['accounts_users.id'], name=op.f('fk_eldercare_caregivers_updated_by_user_id_accounts_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['user_id'], ['accounts_users.id'], name=op.f('fk_eldercare_caregivers_user_id_accounts_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('provider_id', 'user_id', name=op.f('pk_eldercare_caregivers'))
    )
    op.create_index(op.f('ix_eldercare_caregivers_user_id'), 'eldercare_caregivers', ['user_id'], unique=False)

    op.create_table('eldercare_visits',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('order_id', sa.BigInteger(), nullable=False),
    sa.Column('provider_id', sa.BigInteger(), nullable=False),
    sa.Column('caregiver_user_id', sa.BigInteger(), nullable=True),
    sa.Column('assigned_by_user_id', sa.BigInteger(), nullable=True),
    sa.Column('assigned_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('checked_in_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('check_in_lat', sa.Numeric(precision=9, scale=6), nullable=True),
    sa.Column('check_in_lng', sa.Numeric(precision=9, scale=6), nullable=True),
    sa.Column('check_in_photo_id', sa.String(length=24), nullable=True),
    sa.Column('checked_out_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('service_record', sa.String(length=1000), nullable=True),
    sa.Column('service_notes', sa.String(length=500), nullable=True),
    sa.Column('confirmed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('confirmed_by_user_id', sa.BigInteger(), nullable=True),
    sa.Column('auto_confirmed', sa.Boolean(), server_default=sa.false(), nullable=False),
    sa.Column('rating', sa.SmallInteger(), nullable=True),
    sa.Column('rating_comment', sa.String(length=500), nullable=True),
    sa.Column('late_alert_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('no_answer_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('no_answer_note', sa.String(length=200), nullable=True),
    sa.Column('no_show_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('no_show_by_user_id', sa.BigInteger(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint('check_in_lat IS NULL OR check_in_lat BETWEEN -90 AND 90', name=op.f('ck_eldercare_visits_lat_range')),
    sa.CheckConstraint('check_in_lng IS NULL OR check_in_lng BETWEEN -180 AND 180', name=op.f('ck_eldercare_visits_lng_range')),
    sa.CheckConstraint('checked_in_at IS NULL OR caregiver_user_id IS NOT NULL', name=op.f('ck_eldercare_visits_check_in_has_caregiver')),
    sa.CheckConstraint('checked_out_at IS NULL OR checked_in_at IS NOT NULL', name=op.f('ck_eldercare_visits_check_out_after_check_in')),
    sa.CheckConstraint('rating IS NULL OR rating BETWEEN 1 AND 5', name=op.f('ck_eldercare_visits_rating_range')),
    sa.ForeignKeyConstraint(['assigned_by_user_id'], ['accounts_users.id'], name=op.f('fk_eldercare_visits_assigned_by_user_id_accounts_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['caregiver_user_id'], ['accounts_users.id'], name=op.f('fk_eldercare_visits_caregiver_user_id_accounts_users'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['confirmed_by_user_id'], ['accounts_users.id'], name=op.f('fk_eldercare_visits_confirmed_by_user_id_accounts_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['no_show_by_user_id'], ['accounts_users.id'], name=op.f('fk_eldercare_visits_no_show_by_user_id_accounts_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['order_id'], ['eldercare_orders.id'], name=op.f('fk_eldercare_visits_order_id_eldercare_orders'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['provider_id'], ['eldercare_providers.id'], name=op.f('fk_eldercare_visits_provider_id_eldercare_providers'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_eldercare_visits')),
    sa.UniqueConstraint('order_id', name=op.f('uq_eldercare_visits_order_id'))
    )
    op.create_index('ix_eldercare_visits_caregiver', 'eldercare_visits', ['caregiver_user_id', 'id'], unique=False)
    op.create_index(op.f('ix_eldercare_visits_provider_id'), 'eldercare_visits', ['provider_id'], unique=False)


def downgrade():
    op.drop_index(op.f('ix_eldercare_visits_provider_id'), table_name='eldercare_visits')
    op.drop_index('ix_eldercare_visits_caregiver', table_name='eldercare_visits')
    op.drop_table('eldercare_visits')
    op.drop_index(op.f('ix_eldercare_caregivers_user_id'), table_name='eldercare_caregivers')
    op.drop_table('eldercare_caregivers')
    op.drop_constraint(op.f('ck_eldercare_offers_fee_not_negative'), 'eldercare_offers', type_='check')
    op.drop_column('eldercare_offers', 'cancellation_fee_fen')
    op.drop_constraint(op.f('ck_eldercare_providers_fee_not_negative'), 'eldercare_providers', type_='check')
    op.drop_column('eldercare_providers', 'cancellation_fee_fen')
    op.drop_constraint(op.f('ck_eldercare_orders_fee_within_copay'), 'eldercare_orders', type_='check')
    op.drop_column('eldercare_orders', 'delivered_at')
    op.drop_column('eldercare_orders', 'cancellation_fee_fen')
    op.drop_column('eldercare_orders', 'cancelled_by')
    op.execute("UPDATE eldercare_orders SET status = 'cancelled' WHERE status IN ('in_service', 'serviced', 'no_show')")
    op.execute("UPDATE eldercare_orders SET status = 'accepted' WHERE status = 'delivered'")
    _statuses(OLD_STATUSES)
