"""Add the working-day calendar's override table, edited by admins

Revision ID: c54b5fa7c1c5
Revises: 9970b0bd4a4a
Create Date: 2026-11-23 12:30:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'c54b5fa7c1c5'
down_revision = '9970b0bd4a4a'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('core_calendar_overrides',
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('is_workday', sa.Boolean(), nullable=False),
    sa.Column('name', sa.String(length=32), nullable=False, comment='What the day is, e.g. 春节 or 春节调休上班'),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('updated_by', sa.BigInteger(), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint('char_length(btrim(name)) > 0', name=op.f('ck_core_calendar_overrides_name_not_empty')),
    sa.ForeignKeyConstraint(['updated_by'], ['accounts_users.id'], name=op.f('fk_core_calendar_overrides_updated_by_accounts_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('day', name=op.f('pk_core_calendar_overrides'))
    )


def downgrade():
    op.drop_table('core_calendar_overrides')
