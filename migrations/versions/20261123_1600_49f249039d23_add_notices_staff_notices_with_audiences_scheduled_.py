"""Add notices: staff notices with audiences, scheduled publishing and read receipts

Revision ID: 49f249039d23
Revises: 3c1f7a9e2b64
Create Date: 2026-11-23 16:00:00.000000

"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

# revision identifiers, used by Alembic.
revision = '49f249039d23'
down_revision = '3c1f7a9e2b64'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('notices_notices',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('public_id', sa.String(length=24), nullable=False),
    sa.Column('region_id', sa.BigInteger(), nullable=False),
    sa.Column('title', sa.String(length=100), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('urgent', sa.Boolean(), server_default=sa.text('false'), nullable=False),
    sa.Column('status', sa.Enum('draft', 'scheduled', 'published', 'withdrawn', name='noticestatus', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('audience', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('publish_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('published_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('withdrawn_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('delivery_id', sa.String(length=24), nullable=True),
    sa.Column('created_by_user_id', sa.BigInteger(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("status <> 'published' OR published_at IS NOT NULL", name=op.f('ck_notices_notices_published_has_time')),
    sa.CheckConstraint("status <> 'scheduled' OR publish_at IS NOT NULL", name=op.f('ck_notices_notices_scheduled_has_time')),
    sa.CheckConstraint("status <> 'withdrawn' OR withdrawn_at IS NOT NULL", name=op.f('ck_notices_notices_withdrawn_has_time')),
    sa.ForeignKeyConstraint(['created_by_user_id'], ['accounts_users.id'], name=op.f('fk_notices_notices_created_by_user_id_accounts_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['region_id'], ['community_regions.id'], name=op.f('fk_notices_notices_region_id_community_regions'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_notices_notices')),
    sa.UniqueConstraint('public_id', name=op.f('uq_notices_notices_public_id'))
    )
    with op.batch_alter_table('notices_notices', schema=None) as batch_op:
        batch_op.create_index('ix_notices_notices_region_feed', ['region_id', 'created_at', 'public_id'], unique=False)


def downgrade():
    with op.batch_alter_table('notices_notices', schema=None) as batch_op:
        batch_op.drop_index('ix_notices_notices_region_feed')

    op.drop_table('notices_notices')
