"""Add notice channels, pins, expiry and reminders, and surveys with anonymous ballots kept apart from participants

Revision ID: f77815ea0572
Revises: b7e4a19c2d53
Create Date: 2026-12-03 08:00:00.000000

"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

# revision identifiers, used by Alembic.
revision = 'f77815ea0572'
down_revision = 'b7e4a19c2d53'
branch_labels = None
depends_on = None

CHANNELS = ('announcement', 'organization', 'information', 'activity')
SURVEY_STATUSES = ('draft', 'scheduled', 'published', 'withdrawn')


def _listed(values):
    return ", ".join(f"'{value}'" for value in values)


def upgrade():
    # Existing notices go to 社区公告 and are not pinned; the defaults are dropped once the rows have them.
    with op.batch_alter_table('notices_notices', schema=None) as batch_op:
        batch_op.add_column(sa.Column('channel', sa.String(length=32), server_default='announcement', nullable=False))
        batch_op.add_column(sa.Column('pinned', sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.add_column(sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('reminded_at', sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table('notices_notices', schema=None) as batch_op:
        batch_op.alter_column('channel', server_default=None)
        batch_op.alter_column('pinned', server_default=None)
    op.create_check_constraint(
        op.f('ck_notices_notices_noticechannel'), 'notices_notices', f"channel IN ({_listed(CHANNELS)})"
    )
    op.create_check_constraint(
        op.f('ck_notices_notices_expires_later'),
        'notices_notices',
        "expires_at IS NULL OR publish_at IS NULL OR expires_at > publish_at",
    )

    op.create_table('notices_surveys',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('public_id', sa.String(length=24), nullable=False),
    sa.Column('region_id', sa.BigInteger(), nullable=False),
    sa.Column('title', sa.String(length=100), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('anonymous', sa.Boolean(), nullable=False),
    sa.Column('status', sa.Enum(*SURVEY_STATUSES, name='surveystatus', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('audience', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('questions', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('opens_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('closes_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('published_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('withdrawn_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('audience_count', sa.Integer(), nullable=True),
    sa.Column('delivery_id', sa.String(length=24), nullable=True),
    sa.Column('created_by_user_id', sa.BigInteger(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint('closes_at > opens_at', name=op.f('ck_notices_surveys_closes_after_opening')),
    sa.CheckConstraint("status NOT IN ('scheduled', 'published') OR published_at IS NOT NULL", name=op.f('ck_notices_surveys_published')),
    sa.CheckConstraint("status <> 'withdrawn' OR withdrawn_at IS NOT NULL", name=op.f('ck_notices_surveys_withdrawn_has_time')),
    sa.ForeignKeyConstraint(['created_by_user_id'], ['accounts_users.id'], name=op.f('fk_notices_surveys_created_by_user_id_accounts_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['region_id'], ['community_regions.id'], name=op.f('fk_notices_surveys_region_id_community_regions'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_notices_surveys')),
    sa.UniqueConstraint('public_id', name=op.f('uq_notices_surveys_public_id'))
    )
    with op.batch_alter_table('notices_surveys', schema=None) as batch_op:
        batch_op.create_index('ix_notices_surveys_region_feed', ['region_id', 'created_at', 'public_id'], unique=False)

    # Random UUID keys and no timestamps: see notices/survey_models.py.
    op.create_table('notices_survey_participants',
    sa.Column('id', sa.Uuid(), server_default=sa.text('gen_random_uuid()'), nullable=False),
    sa.Column('survey_id', sa.BigInteger(), nullable=False),
    sa.Column('resident_id', sa.BigInteger(), nullable=False),
    sa.Column('answered_by_user_id', sa.BigInteger(), nullable=True),
    sa.Column('answered_on', sa.Date(), nullable=False),
    sa.ForeignKeyConstraint(['answered_by_user_id'], ['accounts_users.id'], name=op.f('fk_notices_survey_participants_answered_by_user_id_accounts_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['resident_id'], ['accounts_residents.id'], name=op.f('fk_notices_survey_participants_resident_id_accounts_residents'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['survey_id'], ['notices_surveys.id'], name=op.f('fk_notices_survey_participants_survey_id_notices_surveys'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_notices_survey_participants')),
    sa.UniqueConstraint('survey_id', 'resident_id', name=op.f('uq_notices_survey_participants_survey_id_resident_id'))
    )
    with op.batch_alter_table('notices_survey_participants', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_notices_survey_participants_resident_id'), ['resident_id'], unique=False)

    op.create_table('notices_survey_ballots',
    sa.Column('id', sa.Uuid(), server_default=sa.text('gen_random_uuid()'), nullable=False),
    sa.Column('survey_id', sa.BigInteger(), nullable=False),
    sa.Column('resident_id', sa.BigInteger(), nullable=True),
    sa.Column('answers', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.ForeignKeyConstraint(['resident_id'], ['accounts_residents.id'], name=op.f('fk_notices_survey_ballots_resident_id_accounts_residents'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['survey_id'], ['notices_surveys.id'], name=op.f('fk_notices_survey_ballots_survey_id_notices_surveys'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_notices_survey_ballots')),
    sa.UniqueConstraint('survey_id', 'resident_id', name=op.f('uq_notices_survey_ballots_survey_id_resident_id'))
    )
    with op.batch_alter_table('notices_survey_ballots', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_notices_survey_ballots_survey_id'), ['survey_id'], unique=False)


def downgrade():
    with op.batch_alter_table('notices_survey_ballots', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_notices_survey_ballots_survey_id'))
    op.drop_table('notices_survey_ballots')
    with op.batch_alter_table('notices_survey_participants', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_notices_survey_participants_resident_id'))
    op.drop_table('notices_survey_participants')
    with op.batch_alter_table('notices_surveys', schema=None) as batch_op:
        batch_op.drop_index('ix_notices_surveys_region_feed')
    op.drop_table('notices_surveys')
    op.drop_constraint(op.f('ck_notices_notices_expires_later'), 'notices_notices', type_='check')
    op.drop_constraint(op.f('ck_notices_notices_noticechannel'), 'notices_notices', type_='check')
    with op.batch_alter_table('notices_notices', schema=None) as batch_op:
        batch_op.drop_column('reminded_at')
        batch_op.drop_column('expires_at')
        batch_op.drop_column('pinned')
        batch_op.drop_column('channel')
