"""Add neighbours activities and sign-ups (capacity, waitlist in queue order, check-in, volunteer minutes)

Revision ID: a7c3e9d1b5f2
Revises: f77815ea0572
Create Date: 2026-12-03 09:15:02.334506

"""
from alembic import op
import sqlalchemy as sa

# revision identifiers, used by Alembic.
revision = 'a7c3e9d1b5f2'
down_revision = 'f77815ea0572'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('neighbours_activities',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('public_id', sa.String(length=24), nullable=False),
    sa.Column('community_id', sa.BigInteger(), nullable=False),
    sa.Column('title', sa.String(length=60), nullable=False),
    sa.Column('description', sa.Text(), server_default='', nullable=False),
    sa.Column('place', sa.String(length=100), nullable=False),
    sa.Column('starts_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ends_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('signup_deadline', sa.DateTime(timezone=True), nullable=False),
    sa.Column('capacity', sa.Integer(), nullable=False),
    sa.Column('volunteer', sa.Boolean(), server_default=sa.text('false'), nullable=False),
    sa.Column('status', sa.Enum('draft', 'published', 'cancelled', name='activitystatus', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('confirmed_count', sa.Integer(), server_default='0', nullable=False),
    sa.Column('waitlist_count', sa.Integer(), server_default='0', nullable=False),
    sa.Column('queue_seq', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('created_by_user_id', sa.BigInteger(), nullable=True),
    sa.Column('published_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('cancelled_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("(status = 'published') = (published_at IS NOT NULL)", name=op.f('ck_neighbours_activities_published_has_time')),
    sa.CheckConstraint("status <> 'cancelled' OR cancelled_at IS NOT NULL", name=op.f('ck_neighbours_activities_cancelled_has_time')),
    sa.CheckConstraint('capacity BETWEEN 1 AND 10000', name=op.f('ck_neighbours_activities_capacity_range')),
    sa.CheckConstraint('confirmed_count BETWEEN 0 AND capacity', name=op.f('ck_neighbours_activities_confirmed_within_capacity')),
    sa.CheckConstraint('ends_at > starts_at', name=op.f('ck_neighbours_activities_ends_after_start')),
    sa.CheckConstraint('signup_deadline <= starts_at', name=op.f('ck_neighbours_activities_deadline_before_start')),
    sa.CheckConstraint('waitlist_count >= 0 AND queue_seq >= 0', name=op.f('ck_neighbours_activities_counts_not_negative')),
    sa.ForeignKeyConstraint(['community_id'], ['community_regions.id'], name=op.f('fk_neighbours_activities_community_id_community_regions'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['created_by_user_id'], ['accounts_users.id'], name=op.f('fk_neighbours_activities_created_by_user_id_accounts_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_neighbours_activities')),
    sa.UniqueConstraint('public_id', name=op.f('uq_neighbours_activities_public_id'))
    )
    with op.batch_alter_table('neighbours_activities', schema=None) as batch_op:
        batch_op.create_index('ix_neighbours_activities_upcoming', ['community_id', 'status', 'starts_at', 'public_id'], unique=False)

    op.create_table('neighbours_activity_signups',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('public_id', sa.String(length=24), nullable=False),
    sa.Column('activity_id', sa.BigInteger(), nullable=False),
    sa.Column('resident_id', sa.BigInteger(), nullable=False),
    sa.Column('signed_up_by_user_id', sa.BigInteger(), nullable=True),
    sa.Column('status', sa.Enum('confirmed', 'waitlisted', 'cancelled', name='signupstatus', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('queue_no', sa.BigInteger(), nullable=False),
    sa.Column('promoted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('cancelled_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('checked_in_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('checked_out_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('volunteer_minutes', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("status <> 'cancelled' OR cancelled_at IS NOT NULL", name=op.f('ck_neighbours_activity_signups_cancelled_has_time')),
    sa.CheckConstraint('(volunteer_minutes IS NULL) = (checked_out_at IS NULL) AND coalesce(volunteer_minutes, 0) BETWEEN 0 AND 1440', name=op.f('ck_neighbours_activity_signups_minutes_at_checkout')),
    sa.CheckConstraint('checked_out_at IS NULL OR checked_in_at IS NOT NULL', name=op.f('ck_neighbours_activity_signups_checkout_after_checkin')),
    sa.ForeignKeyConstraint(['activity_id'], ['neighbours_activities.id'], name=op.f('fk_neighbours_activity_signups_activity_id_neighbours_activities'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['resident_id'], ['accounts_residents.id'], name=op.f('fk_neighbours_activity_signups_resident_id_accounts_residents'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['signed_up_by_user_id'], ['accounts_users.id'], name=op.f('fk_neighbours_activity_signups_signed_up_by_user_id_accounts_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_neighbours_activity_signups')),
    sa.UniqueConstraint('activity_id', 'resident_id', name=op.f('uq_neighbours_activity_signups_activity_id_resident_id')),
    sa.UniqueConstraint('public_id', name=op.f('uq_neighbours_activity_signups_public_id'))
    )
    with op.batch_alter_table('neighbours_activity_signups', schema=None) as batch_op:
        batch_op.create_index('ix_neighbours_activity_signups_queue', ['activity_id', 'status', 'queue_no'], unique=False)
        batch_op.create_index('ix_neighbours_activity_signups_resident', ['resident_id', 'checked_out_at'], unique=False)



def downgrade():
    with op.batch_alter_table('neighbours_activity_signups', schema=None) as batch_op:
        batch_op.drop_index('ix_neighbours_activity_signups_resident')
        batch_op.drop_index('ix_neighbours_activity_signups_queue')

    op.drop_table('neighbours_activity_signups')
    with op.batch_alter_table('neighbours_activities', schema=None) as batch_op:
        batch_op.drop_index('ix_neighbours_activities_upcoming')

    op.drop_table('neighbours_activities')
