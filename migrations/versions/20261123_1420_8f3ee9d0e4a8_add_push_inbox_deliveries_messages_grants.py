"""Add push: deliveries and their audience, inbox, unreachable residents, outside messages, subscribe grants, SMS preferences

Revision ID: 8f3ee9d0e4a8
Revises: 38862e8fc260
Create Date: 2026-11-23 14:20:00.000000

"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

# revision identifiers, used by Alembic.
revision = '8f3ee9d0e4a8'
down_revision = '38862e8fc260'
branch_labels = None
depends_on = None

#: Public ids of rows written by INSERT … SELECT are made in SQL (gen_random_uuid is built in since PostgreSQL 13).
SQL_PUBLIC_ID = sa.text("rtrim(translate(encode(uuid_send(gen_random_uuid()), 'base64'), '+/', '-_'), '=')")


def upgrade():
    op.create_table('push_deliveries',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('public_id', sa.String(length=24), nullable=False),
    sa.Column('event', sa.String(length=64), nullable=False),
    sa.Column('source_kind', sa.String(length=32), nullable=False),
    sa.Column('source_id', sa.String(length=64), nullable=False),
    sa.Column('key', sa.String(length=200), nullable=True),
    sa.Column('scope', sa.String(length=32), nullable=False),
    sa.Column('urgent', sa.Boolean(), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('wechat_template_id', sa.String(length=64), nullable=True),
    sa.Column('wechat_data', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    sa.Column('wechat_page', sa.String(length=200), nullable=True),
    sa.Column('wechat_refused', sa.String(length=200), nullable=True),
    sa.Column('sms_template', sa.String(length=80), nullable=True),
    sa.Column('sms_params', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    sa.Column('audience_count', sa.Integer(), nullable=False),
    sa.Column('fan_out_jobs', sa.Integer(), server_default='0', nullable=False),
    sa.Column('fan_out_cursor', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('fanned_out_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint('audience_count >= 0', name=op.f('ck_push_deliveries_audience_not_negative')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_push_deliveries')),
    sa.UniqueConstraint('key', name=op.f('uq_push_deliveries_key')),
    sa.UniqueConstraint('public_id', name=op.f('uq_push_deliveries_public_id'))
    )
    op.create_index('ix_push_deliveries_source', 'push_deliveries', ['source_kind', 'source_id'], unique=False)
    op.create_table('push_audience',
    sa.Column('delivery_id', sa.BigInteger(), nullable=False),
    sa.Column('resident_id', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['delivery_id'], ['push_deliveries.id'], name=op.f('fk_push_audience_delivery_id_push_deliveries'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('delivery_id', 'resident_id', name=op.f('pk_push_audience'))
    )
    op.create_table('push_preferences',
    sa.Column('user_id', sa.BigInteger(), nullable=False),
    sa.Column('event', sa.String(length=64), nullable=False),
    sa.Column('sms', sa.Boolean(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['accounts_users.id'], name=op.f('fk_push_preferences_user_id_accounts_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('user_id', 'event', name=op.f('pk_push_preferences'))
    )
    op.create_table('push_subscription_grants',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('user_id', sa.BigInteger(), nullable=False),
    sa.Column('template_id', sa.String(length=64), nullable=False),
    sa.Column('remaining', sa.Integer(), nullable=False),
    sa.Column('granted_total', sa.Integer(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint('remaining >= 0', name=op.f('ck_push_subscription_grants_remaining_not_negative')),
    sa.ForeignKeyConstraint(['user_id'], ['accounts_users.id'], name=op.f('fk_push_subscription_grants_user_id_accounts_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_push_subscription_grants')),
    sa.UniqueConstraint('user_id', 'template_id', name=op.f('uq_push_subscription_grants_user_id_template_id'))
    )
    op.create_table('push_inbox',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('public_id', sa.String(length=24), server_default=SQL_PUBLIC_ID, nullable=False),
    sa.Column('user_id', sa.BigInteger(), nullable=False),
    sa.Column('resident_id', sa.BigInteger(), nullable=False),
    sa.Column('delivery_id', sa.BigInteger(), nullable=False),
    sa.Column('via', sa.Enum('self', 'delegate', name='via', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('read_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['delivery_id'], ['push_deliveries.id'], name=op.f('fk_push_inbox_delivery_id_push_deliveries'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['resident_id'], ['accounts_residents.id'], name=op.f('fk_push_inbox_resident_id_accounts_residents'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['accounts_users.id'], name=op.f('fk_push_inbox_user_id_accounts_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_push_inbox')),
    sa.UniqueConstraint('delivery_id', 'user_id', 'resident_id', name=op.f('uq_push_inbox_delivery_id_user_id_resident_id')),
    sa.UniqueConstraint('public_id', name=op.f('uq_push_inbox_public_id'))
    )
    op.create_index(op.f('ix_push_inbox_resident_id'), 'push_inbox', ['resident_id'], unique=False)
    op.create_index('ix_push_inbox_user_feed', 'push_inbox', ['user_id', 'created_at', 'public_id'], unique=False)
    op.create_index('ix_push_inbox_user_unread', 'push_inbox', ['user_id'], unique=False, postgresql_where=sa.text('read_at IS NULL'))
    op.create_table('push_unreachable',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('delivery_id', sa.BigInteger(), nullable=False),
    sa.Column('resident_id', sa.BigInteger(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['delivery_id'], ['push_deliveries.id'], name=op.f('fk_push_unreachable_delivery_id_push_deliveries'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['resident_id'], ['accounts_residents.id'], name=op.f('fk_push_unreachable_resident_id_accounts_residents'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_push_unreachable')),
    sa.UniqueConstraint('delivery_id', 'resident_id', name=op.f('uq_push_unreachable_delivery_id_resident_id'))
    )
    op.create_index(op.f('ix_push_unreachable_resident_id'), 'push_unreachable', ['resident_id'], unique=False)
    op.create_table('push_messages',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('public_id', sa.String(length=24), server_default=SQL_PUBLIC_ID, nullable=False),
    sa.Column('delivery_id', sa.BigInteger(), nullable=False),
    sa.Column('inbox_id', sa.BigInteger(), nullable=True),
    sa.Column('user_id', sa.BigInteger(), nullable=False),
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('status', sa.Enum('pending', 'sent', 'failed', 'skipped', name='messagestatus', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('reason', sa.String(length=64), nullable=True),
    sa.Column('error', sa.String(length=500), nullable=True),
    sa.Column('address', sa.String(length=20), nullable=True),
    sa.Column('due_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("channel IN ('wechat', 'sms')", name=op.f('ck_push_messages_channel_known')),
    sa.CheckConstraint("status <> 'sent' OR sent_at IS NOT NULL", name=op.f('ck_push_messages_sent_has_time')),
    sa.ForeignKeyConstraint(['delivery_id'], ['push_deliveries.id'], name=op.f('fk_push_messages_delivery_id_push_deliveries'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['inbox_id'], ['push_inbox.id'], name=op.f('fk_push_messages_inbox_id_push_inbox'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['user_id'], ['accounts_users.id'], name=op.f('fk_push_messages_user_id_accounts_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_push_messages')),
    sa.UniqueConstraint('delivery_id', 'user_id', 'channel', name=op.f('uq_push_messages_delivery_id_user_id_channel')),
    sa.UniqueConstraint('public_id', name=op.f('uq_push_messages_public_id'))
    )
    op.create_index(op.f('ix_push_messages_inbox_id'), 'push_messages', ['inbox_id'], unique=False)
    op.create_index('ix_push_messages_sms_sent', 'push_messages', ['address', 'sent_at'], unique=False, postgresql_where=sa.text("channel = 'sms' AND status = 'sent'"))
    op.create_index(op.f('ix_push_messages_user_id'), 'push_messages', ['user_id'], unique=False)


def downgrade():
    op.drop_table('push_messages')
    op.drop_table('push_unreachable')
    op.drop_table('push_inbox')
    op.drop_table('push_subscription_grants')
    op.drop_table('push_preferences')
    op.drop_table('push_audience')
    op.drop_table('push_deliveries')
