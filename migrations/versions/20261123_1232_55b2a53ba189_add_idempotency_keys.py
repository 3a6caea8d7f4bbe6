"""Add idempotency keys: one row per user and Idempotency-Key, with the response replayed for 24 hours

Revision ID: 55b2a53ba189
Revises: 5d60c83eb2b5
Create Date: 2026-11-23 12:32:00.000000

"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

# revision identifiers, used by Alembic.
revision = '55b2a53ba189'
down_revision = '5d60c83eb2b5'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('core_idempotency_keys',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('user_id', sa.BigInteger(), nullable=False),
    sa.Column('key', sa.String(length=255), nullable=False),
    sa.Column('method', sa.String(length=10), nullable=False),
    sa.Column('path', sa.Text(), nullable=False),
    sa.Column('fingerprint', sa.String(length=64), nullable=False, comment='sha256 of the query string and request body'),
    sa.Column('status', sa.Enum('in_progress', 'completed', name='idempotencystatus', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('response_status', sa.SmallInteger(), nullable=True),
    sa.Column('response_body', sa.LargeBinary(), nullable=True),
    sa.Column('response_headers', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("status = 'in_progress' OR response_status IS NOT NULL", name=op.f('ck_core_idempotency_keys_completed_has_response')),
    sa.ForeignKeyConstraint(['user_id'], ['accounts_users.id'], name=op.f('fk_core_idempotency_keys_user_id_accounts_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_core_idempotency_keys')),
    sa.UniqueConstraint('user_id', 'key', name=op.f('uq_core_idempotency_keys_user_id_key'))
    )
    with op.batch_alter_table('core_idempotency_keys', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_core_idempotency_keys_expires_at'), ['expires_at'], unique=False)


def downgrade():
    with op.batch_alter_table('core_idempotency_keys', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_core_idempotency_keys_expires_at'))

    op.drop_table('core_idempotency_keys')
