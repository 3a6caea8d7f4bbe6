"""Add login identifiers to users; login sessions, rotated refresh tokens, SMS codes, password failures

Revision ID: 740c0df66682
Revises: 55b2a53ba189
Create Date: 2026-11-23 12:40:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '740c0df66682'
down_revision = '55b2a53ba189'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('accounts_users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('phone', sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column('phone_verified_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('wechat_openid', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('wechat_unionid', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('username', sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column('password_hash', sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column('last_login_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('merged_into_id', sa.BigInteger(), nullable=True))
        batch_op.create_unique_constraint(batch_op.f('uq_accounts_users_phone'), ['phone'])
        batch_op.create_unique_constraint(batch_op.f('uq_accounts_users_wechat_openid'), ['wechat_openid'])
        batch_op.create_unique_constraint(batch_op.f('uq_accounts_users_wechat_unionid'), ['wechat_unionid'])
        batch_op.create_unique_constraint(batch_op.f('uq_accounts_users_username'), ['username'])
        batch_op.create_foreign_key(
            batch_op.f('fk_accounts_users_merged_into_id_accounts_users'),
            'accounts_users', ['merged_into_id'], ['id'], ondelete='SET NULL',
        )
        batch_op.create_check_constraint(
            batch_op.f('ck_accounts_users_username_lowercase'), 'username = lower(username)'
        )
        batch_op.create_check_constraint(
            batch_op.f('ck_accounts_users_merged_account_inactive'), 'merged_into_id IS NULL OR NOT is_active'
        )

    op.create_table('auth_sessions',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('public_id', sa.String(length=24), nullable=False),
    sa.Column('user_id', sa.BigInteger(), nullable=False),
    sa.Column('method', sa.Enum('wechat', 'sms', 'password', 'dev', 'issued', name='loginmethod', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('refresh_hash', sa.String(length=64), nullable=False),
    sa.Column('generation', sa.Integer(), server_default='1', nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('last_used_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('revoke_reason', sa.String(length=32), nullable=True),
    sa.Column('user_agent', sa.String(length=256), nullable=True),
    sa.Column('ip', sa.String(length=64), nullable=True),
    sa.CheckConstraint('generation >= 1', name=op.f('ck_auth_sessions_generation_positive')),
    sa.ForeignKeyConstraint(['user_id'], ['accounts_users.id'], name=op.f('fk_auth_sessions_user_id_accounts_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_auth_sessions')),
    sa.UniqueConstraint('public_id', name=op.f('uq_auth_sessions_public_id')),
    sa.UniqueConstraint('refresh_hash', name=op.f('uq_auth_sessions_refresh_hash'))
    )
    with op.batch_alter_table('auth_sessions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_auth_sessions_user_id'), ['user_id'], unique=False)
        batch_op.create_index('ix_auth_sessions_revoked_at', ['revoked_at'], unique=False, postgresql_where=sa.text('revoked_at IS NOT NULL'))

    op.create_table('auth_rotated_refresh_tokens',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('session_id', sa.BigInteger(), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('generation', sa.Integer(), nullable=False),
    sa.Column('rotated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['session_id'], ['auth_sessions.id'], name=op.f('fk_auth_rotated_refresh_tokens_session_id_auth_sessions'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_auth_rotated_refresh_tokens')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_auth_rotated_refresh_tokens_token_hash'))
    )
    with op.batch_alter_table('auth_rotated_refresh_tokens', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_auth_rotated_refresh_tokens_session_id'), ['session_id'], unique=False)

    op.create_table('auth_sms_codes',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('phone', sa.String(length=20), nullable=False),
    sa.Column('code_hash', sa.String(length=64), nullable=False),
    sa.Column('sent_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('attempts', sa.Integer(), server_default='0', nullable=False),
    sa.Column('used_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('ip', sa.String(length=64), nullable=True),
    sa.CheckConstraint('attempts >= 0', name=op.f('ck_auth_sms_codes_attempts_not_negative')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_auth_sms_codes'))
    )
    with op.batch_alter_table('auth_sms_codes', schema=None) as batch_op:
        batch_op.create_index('ix_auth_sms_codes_phone_sent_at', ['phone', 'sent_at'], unique=False)

    op.create_table('auth_password_failures',
    sa.Column('username', sa.String(length=64), nullable=False),
    sa.Column('failures', sa.Integer(), server_default='0', nullable=False),
    sa.Column('last_failed_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('locked_until', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('username', name=op.f('pk_auth_password_failures'))
    )


def downgrade():
    op.drop_table('auth_password_failures')
    with op.batch_alter_table('auth_sms_codes', schema=None) as batch_op:
        batch_op.drop_index('ix_auth_sms_codes_phone_sent_at')

    op.drop_table('auth_sms_codes')
    with op.batch_alter_table('auth_rotated_refresh_tokens', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_auth_rotated_refresh_tokens_session_id'))

    op.drop_table('auth_rotated_refresh_tokens')
    with op.batch_alter_table('auth_sessions', schema=None) as batch_op:
        batch_op.drop_index('ix_auth_sessions_revoked_at', postgresql_where=sa.text('revoked_at IS NOT NULL'))
        batch_op.drop_index(batch_op.f('ix_auth_sessions_user_id'))

    op.drop_table('auth_sessions')
    with op.batch_alter_table('accounts_users', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_accounts_users_merged_account_inactive'), type_='check')
        batch_op.drop_constraint(batch_op.f('ck_accounts_users_username_lowercase'), type_='check')
        batch_op.drop_constraint(batch_op.f('fk_accounts_users_merged_into_id_accounts_users'), type_='foreignkey')
        batch_op.drop_constraint(batch_op.f('uq_accounts_users_username'), type_='unique')
        batch_op.drop_constraint(batch_op.f('uq_accounts_users_wechat_unionid'), type_='unique')
        batch_op.drop_constraint(batch_op.f('uq_accounts_users_wechat_openid'), type_='unique')
        batch_op.drop_constraint(batch_op.f('uq_accounts_users_phone'), type_='unique')
        batch_op.drop_column('merged_into_id')
        batch_op.drop_column('last_login_at')
        batch_op.drop_column('password_hash')
        batch_op.drop_column('username')
        batch_op.drop_column('wechat_unionid')
        batch_op.drop_column('wechat_openid')
        batch_op.drop_column('phone_verified_at')
        batch_op.drop_column('phone')
