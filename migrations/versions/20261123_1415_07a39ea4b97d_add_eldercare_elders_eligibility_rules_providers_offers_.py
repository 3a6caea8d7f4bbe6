"""Add eldercare: elders, eligibility rules, providers and offers, care orders, monthly subsidy quotas and ledger

Revision ID: 07a39ea4b97d
Revises: 49f249039d23
Create Date: 2026-11-23 14:15:00.000000

"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

# revision identifiers, used by Alembic.
revision = '07a39ea4b97d'
down_revision = '49f249039d23'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('eldercare_items',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('public_id', sa.String(length=24), nullable=False),
    sa.Column('category', sa.Enum('meal', 'bath', 'medical', 'cleaning', 'errands', 'companionship', name='carecategory', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('description', sa.String(length=500), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_eldercare_items')),
    sa.UniqueConstraint('name', name=op.f('uq_eldercare_items_name')),
    sa.UniqueConstraint('public_id', name=op.f('uq_eldercare_items_public_id'))
    )
    op.create_table('eldercare_eligibility_rules',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('public_id', sa.String(length=24), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('district_id', sa.BigInteger(), nullable=True),
    sa.Column('min_age', sa.Integer(), nullable=True),
    sa.Column('hukou', sa.Enum('local', 'non_local', name='hukoustatus', native_enum=False, create_constraint=True, length=32), nullable=True),
    sa.Column('tag_code', sa.String(length=32), nullable=True),
    sa.Column('copay_bps', sa.Integer(), nullable=False, comment='Copay rate in basis points (1000 = 10 %)'),
    sa.Column('monthly_quota_fen', sa.BigInteger(), nullable=False),
    sa.Column('valid_from', sa.Date(), nullable=False),
    sa.Column('valid_to', sa.Date(), nullable=True),
    sa.Column('priority', sa.Integer(), nullable=False),
    sa.Column('created_by_user_id', sa.BigInteger(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint('copay_bps BETWEEN 0 AND 10000', name=op.f('ck_eldercare_eligibility_rules_copay_bps_range')),
    sa.CheckConstraint('min_age IS NULL OR min_age BETWEEN 0 AND 150', name=op.f('ck_eldercare_eligibility_rules_min_age_range')),
    sa.CheckConstraint('monthly_quota_fen >= 0', name=op.f('ck_eldercare_eligibility_rules_quota_not_negative')),
    sa.CheckConstraint('valid_to IS NULL OR valid_to >= valid_from', name=op.f('ck_eldercare_eligibility_rules_valid_ordered')),
    sa.ForeignKeyConstraint(['created_by_user_id'], ['accounts_users.id'], name=op.f('fk_eldercare_eligibility_rules_created_by_user_id_accounts_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['district_id'], ['community_regions.id'], name=op.f('fk_eldercare_eligibility_rules_district_id_community_regions'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_eldercare_eligibility_rules')),
    sa.UniqueConstraint('public_id', name=op.f('uq_eldercare_eligibility_rules_public_id'))
    )
    op.create_table('eldercare_providers',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('public_id', sa.String(length=24), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('licence_no', sa.String(length=32), nullable=False),
    sa.Column('contact_phone', sa.String(length=20), nullable=False),
    sa.Column('payee_id', sa.BigInteger(), nullable=True),
    sa.Column('status', sa.Enum('pending', 'approved', 'rejected', 'suspended', name='providerstatus', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('status_note', sa.String(length=200), nullable=True),
    sa.Column('applicant_user_id', sa.BigInteger(), nullable=False),
    sa.Column('decided_by_user_id', sa.BigInteger(), nullable=True),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("status <> 'approved' OR payee_id IS NOT NULL", name=op.f('ck_eldercare_providers_approved_has_payee')),
    sa.ForeignKeyConstraint(['applicant_user_id'], ['accounts_users.id'], name=op.f('fk_eldercare_providers_applicant_user_id_accounts_users'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['decided_by_user_id'], ['accounts_users.id'], name=op.f('fk_eldercare_providers_decided_by_user_id_accounts_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['payee_id'], ['payments_payees.id'], name=op.f('fk_eldercare_providers_payee_id_payments_payees'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_eldercare_providers')),
    sa.UniqueConstraint('public_id', name=op.f('uq_eldercare_providers_public_id'))
    )
    op.create_index(op.f('ix_eldercare_providers_applicant_user_id'), 'eldercare_providers', ['applicant_user_id'], unique=False)
    op.create_index(op.f('ix_eldercare_providers_payee_id'), 'eldercare_providers', ['payee_id'], unique=False)
    op.create_table('eldercare_elders',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('resident_id', sa.BigInteger(), nullable=False),
    sa.Column('care_level', sa.Enum('independent', 'partly_dependent', 'dependent', name='carelevel', native_enum=False, create_constraint=True, length=32), nullable=True),
    sa.Column('assessed_by_user_id', sa.BigInteger(), nullable=True),
    sa.Column('assessed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('emergency_contacts', postgresql.JSONB(astext_type=sa.Text()), server_default='[]', nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['assessed_by_user_id'], ['accounts_users.id'], name=op.f('fk_eldercare_elders_assessed_by_user_id_accounts_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['resident_id'], ['accounts_residents.id'], name=op.f('fk_eldercare_elders_resident_id_accounts_residents'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_eldercare_elders')),
    sa.UniqueConstraint('resident_id', name=op.f('uq_eldercare_elders_resident_id'))
    )
    op.create_table('eldercare_offers',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('public_id', sa.String(length=24), nullable=False),
    sa.Column('provider_id', sa.BigInteger(), nullable=False),
    sa.Column('item_id', sa.BigInteger(), nullable=False),
    sa.Column('price_fen', sa.BigInteger(), nullable=False),
    sa.Column('duration_minutes', sa.Integer(), nullable=False),
    sa.Column('active', sa.Boolean(), server_default=sa.text('true'), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint('duration_minutes > 0', name=op.f('ck_eldercare_offers_duration_positive')),
    sa.CheckConstraint('price_fen > 0', name=op.f('ck_eldercare_offers_price_positive')),
    sa.ForeignKeyConstraint(['item_id'], ['eldercare_items.id'], name=op.f('fk_eldercare_offers_item_id_eldercare_items'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['provider_id'], ['eldercare_providers.id'], name=op.f('fk_eldercare_offers_provider_id_eldercare_providers'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_eldercare_offers')),
    sa.UniqueConstraint('provider_id', 'item_id', name=op.f('uq_eldercare_offers_provider_id_item_id')),
    sa.UniqueConstraint('public_id', name=op.f('uq_eldercare_offers_public_id'))
    )
    op.create_index(op.f('ix_eldercare_offers_item_id'), 'eldercare_offers', ['item_id'], unique=False)
    op.create_table('eldercare_provider_communities',
    sa.Column('provider_id', sa.BigInteger(), nullable=False),
    sa.Column('community_id', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['community_id'], ['community_regions.id'], name=op.f('fk_eldercare_provider_communities_community_id_community_regions'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['provider_id'], ['eldercare_providers.id'], name=op.f('fk_eldercare_provider_communities_provider_id_eldercare_providers'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('provider_id', 'community_id', name=op.f('pk_eldercare_provider_communities'))
    )
    op.create_index(op.f('ix_eldercare_provider_communities_community_id'), 'eldercare_provider_communities', ['community_id'], unique=False)
    op.create_table('eldercare_subsidy_quotas',
    sa.Column('resident_id', sa.BigInteger(), nullable=False),
    sa.Column('month', sa.Date(), nullable=False),
    sa.Column('quota_fen', sa.BigInteger(), nullable=False),
    sa.Column('held_fen', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('claimed_fen', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('rule_id', sa.BigInteger(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint('held_fen + claimed_fen <= quota_fen', name=op.f('ck_eldercare_subsidy_quotas_within_quota')),
    sa.CheckConstraint('held_fen >= 0 AND claimed_fen >= 0', name=op.f('ck_eldercare_subsidy_quotas_not_negative')),
    sa.ForeignKeyConstraint(['resident_id'], ['accounts_residents.id'], name=op.f('fk_eldercare_subsidy_quotas_resident_id_accounts_residents'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['rule_id'], ['eldercare_eligibility_rules.id'], name=op.f('fk_eldercare_subsidy_quotas_rule_id_eldercare_eligibility_rules'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('resident_id', 'month', name=op.f('pk_eldercare_subsidy_quotas'))
    )
    op.create_table('eldercare_offer_communities',
    sa.Column('offer_id', sa.BigInteger(), nullable=False),
    sa.Column('community_id', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['community_id'], ['community_regions.id'], name=op.f('fk_eldercare_offer_communities_community_id_community_regions'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['offer_id'], ['eldercare_offers.id'], name=op.f('fk_eldercare_offer_communities_offer_id_eldercare_offers'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('offer_id', 'community_id', name=op.f('pk_eldercare_offer_communities'))
    )
    op.create_index(op.f('ix_eldercare_offer_communities_community_id'), 'eldercare_offer_communities', ['community_id'], unique=False)
    op.create_table('eldercare_orders',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('public_id', sa.String(length=24), nullable=False),
    sa.Column('resident_id', sa.BigInteger(), nullable=False),
    sa.Column('provider_id', sa.BigInteger(), nullable=False),
    sa.Column('offer_id', sa.BigInteger(), nullable=False),
    sa.Column('community_id', sa.BigInteger(), nullable=False),
    sa.Column('category', sa.Enum('meal', 'bath', 'medical', 'cleaning', 'errands', 'companionship', name='carecategory', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('item_name', sa.String(length=64), nullable=False),
    sa.Column('scheduled_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('duration_minutes', sa.Integer(), nullable=False),
    sa.Column('notes', sa.String(length=200), nullable=True),
    sa.Column('placed_by_user_id', sa.BigInteger(), nullable=False),
    sa.Column('placed_via', sa.Enum('self', 'delegate', 'staff', name='placedvia', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('staff_reason', sa.String(length=200), nullable=True),
    sa.Column('status', sa.Enum('pending_payment', 'submitted', 'accepted', 'declined', 'cancelled', 'expired', name='careorderstatus', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('price_fen', sa.BigInteger(), nullable=False),
    sa.Column('subsidy_fen', sa.BigInteger(), nullable=False),
    sa.Column('copay_fen', sa.BigInteger(), nullable=False),
    sa.Column('subsidy_month', sa.Date(), nullable=False),
    sa.Column('rule_id', sa.BigInteger(), nullable=True),
    sa.Column('rule_snapshot', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    sa.Column('refunded_fen', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('paid_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('payment_public_id', sa.String(length=24), nullable=True),
    sa.Column('decided_by_user_id', sa.BigInteger(), nullable=True),
    sa.Column('status_note', sa.String(length=200), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("placed_via <> 'staff' OR staff_reason IS NOT NULL", name=op.f('ck_eldercare_orders_staff_has_reason')),
    sa.CheckConstraint('price_fen > 0', name=op.f('ck_eldercare_orders_price_positive')),
    sa.CheckConstraint('refunded_fen >= 0 AND refunded_fen <= copay_fen', name=op.f('ck_eldercare_orders_refunded_within_copay')),
    sa.CheckConstraint('subsidy_fen + copay_fen = price_fen', name=op.f('ck_eldercare_orders_amounts_add_up')),
    sa.CheckConstraint('subsidy_fen >= 0 AND copay_fen >= 0', name=op.f('ck_eldercare_orders_amounts_not_negative')),
    sa.ForeignKeyConstraint(['community_id'], ['community_regions.id'], name=op.f('fk_eldercare_orders_community_id_community_regions'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['decided_by_user_id'], ['accounts_users.id'], name=op.f('fk_eldercare_orders_decided_by_user_id_accounts_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['offer_id'], ['eldercare_offers.id'], name=op.f('fk_eldercare_orders_offer_id_eldercare_offers'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['placed_by_user_id'], ['accounts_users.id'], name=op.f('fk_eldercare_orders_placed_by_user_id_accounts_users'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['provider_id'], ['eldercare_providers.id'], name=op.f('fk_eldercare_orders_provider_id_eldercare_providers'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['resident_id'], ['accounts_residents.id'], name=op.f('fk_eldercare_orders_resident_id_accounts_residents'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['rule_id'], ['eldercare_eligibility_rules.id'], name=op.f('fk_eldercare_orders_rule_id_eldercare_eligibility_rules'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_eldercare_orders')),
    sa.UniqueConstraint('public_id', name=op.f('uq_eldercare_orders_public_id'))
    )
    op.create_index(op.f('ix_eldercare_orders_community_id'), 'eldercare_orders', ['community_id'], unique=False)
    op.create_index(op.f('ix_eldercare_orders_offer_id'), 'eldercare_orders', ['offer_id'], unique=False)
    op.create_index(op.f('ix_eldercare_orders_placed_by_user_id'), 'eldercare_orders', ['placed_by_user_id'], unique=False)
    op.create_index('ix_eldercare_orders_provider_status', 'eldercare_orders', ['provider_id', 'status', 'id'], unique=False)
    op.create_index(op.f('ix_eldercare_orders_resident_id'), 'eldercare_orders', ['resident_id'], unique=False)
    op.create_table('eldercare_subsidy_ledger',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('resident_id', sa.BigInteger(), nullable=False),
    sa.Column('month', sa.Date(), nullable=False),
    sa.Column('order_id', sa.BigInteger(), nullable=True),
    sa.Column('kind', sa.Enum('hold', 'claim', 'release', name='ledgerkind', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('amount_fen', sa.BigInteger(), nullable=False),
    sa.Column('idempotency_key', sa.String(length=100), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint('amount_fen > 0', name=op.f('ck_eldercare_subsidy_ledger_amount_positive')),
    sa.ForeignKeyConstraint(['order_id'], ['eldercare_orders.id'], name=op.f('fk_eldercare_subsidy_ledger_order_id_eldercare_orders'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['resident_id'], ['accounts_residents.id'], name=op.f('fk_eldercare_subsidy_ledger_resident_id_accounts_residents'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_eldercare_subsidy_ledger')),
    sa.UniqueConstraint('idempotency_key', name=op.f('uq_eldercare_subsidy_ledger_idempotency_key'))
    )
    op.create_index(op.f('ix_eldercare_subsidy_ledger_order_id'), 'eldercare_subsidy_ledger', ['order_id'], unique=False)
    op.create_index('ix_eldercare_subsidy_ledger_resident_month', 'eldercare_subsidy_ledger', ['resident_id', 'month'], unique=False)


def downgrade():
    op.drop_index('ix_eldercare_subsidy_ledger_resident_month', table_name='eldercare_subsidy_ledger')
    op.drop_index(op.f('ix_eldercare_subsidy_ledger_order_id'), table_name='eldercare_subsidy_ledger')
    op.drop_table('eldercare_subsidy_ledger')
    op.drop_index(op.f('ix_eldercare_orders_resident_id'), table_name='eldercare_orders')
    op.drop_index('ix_eldercare_orders_provider_status', table_name='eldercare_orders')
    op.drop_index(op.f('ix_eldercare_orders_placed_by_user_id'), table_name='eldercare_orders')
    op.drop_index(op.f('ix_eldercare_orders_offer_id'), table_name='eldercare_orders')
    op.drop_index(op.f('ix_eldercare_orders_community_id'), table_name='eldercare_orders')
    op.drop_table('eldercare_orders')
    op.drop_index(op.f('ix_eldercare_offer_communities_community_id'), table_name='eldercare_offer_communities')
    op.drop_table('eldercare_offer_communities')
    op.drop_table('eldercare_subsidy_quotas')
    op.drop_index(op.f('ix_eldercare_provider_communities_community_id'), table_name='eldercare_provider_communities')
    op.drop_table('eldercare_provider_communities')
    op.drop_index(op.f('ix_eldercare_offers_item_id'), table_name='eldercare_offers')
    op.drop_table('eldercare_offers')
    op.drop_table('eldercare_elders')
    op.drop_index(op.f('ix_eldercare_providers_payee_id'), table_name='eldercare_providers')
    op.drop_index(op.f('ix_eldercare_providers_applicant_user_id'), table_name='eldercare_providers')
    op.drop_table('eldercare_providers')
    op.drop_table('eldercare_eligibility_rules')
    op.drop_table('eldercare_items')
