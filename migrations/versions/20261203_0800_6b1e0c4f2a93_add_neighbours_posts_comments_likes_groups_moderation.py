"""Add neighbours: posts with checked images, comments, likes, reports, groups, sensitive words, mutes, hot snapshots

Revision ID: 6b1e0c4f2a93
Revises: c4e8a2d19b57
Create Date: 2026-12-03 08:00:00.000000

"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

# revision identifiers, used by Alembic.
revision = '6b1e0c4f2a93'
down_revision = 'c4e8a2d19b57'
branch_labels = None
depends_on = None

#: A few words to start the filter with (platform-wide); staff and admins edit the list at /neighbours/manage/words.
SEED_WORDS = (
    ('代开发票', 'reject'),
    ('网络赌博', 'reject'),
    ('办假证', 'reject'),
    ('傻逼', 'mask'),
    ('他妈的', 'mask'),
)


def upgrade():
    op.create_table('neighbours_groups',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('public_id', sa.String(length=24), nullable=False),
    sa.Column('community_id', sa.BigInteger(), nullable=False),
    sa.Column('name', sa.String(length=30), nullable=False),
    sa.Column('description', sa.String(length=200), server_default='', nullable=False),
    sa.Column('closed', sa.Boolean(), server_default=sa.text('false'), nullable=False),
    sa.Column('owner_user_id', sa.BigInteger(), nullable=False),
    sa.Column('member_count', sa.Integer(), server_default='0', nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint('char_length(name) BETWEEN 1 AND 30', name=op.f('ck_neighbours_groups_name_length')),
    sa.CheckConstraint('member_count >= 0', name=op.f('ck_neighbours_groups_member_count_not_negative')),
    sa.ForeignKeyConstraint(['community_id'], ['community_regions.id'], name=op.f('fk_neighbours_groups_community_id_community_regions'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['owner_user_id'], ['accounts_users.id'], name=op.f('fk_neighbours_groups_owner_user_id_accounts_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_neighbours_groups')),
    sa.UniqueConstraint('community_id', 'name', name=op.f('uq_neighbours_groups_community_id_name')),
    sa.UniqueConstraint('id', 'community_id', name='uq_neighbours_groups_id_community_id'),
    sa.UniqueConstraint('public_id', name=op.f('uq_neighbours_groups_public_id'))
    )
    with op.batch_alter_table('neighbours_groups', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_neighbours_groups_community_id'), ['community_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_neighbours_groups_owner_user_id'), ['owner_user_id'], unique=False)

    op.create_table('neighbours_hot_snapshots',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('public_id', sa.String(length=24), nullable=False),
    sa.Column('community_id', sa.BigInteger(), nullable=False),
    sa.Column('user_id', sa.BigInteger(), nullable=False),
    sa.Column('post_ids', postgresql.ARRAY(sa.BigInteger()), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['community_id'], ['community_regions.id'], name=op.f('fk_neighbours_hot_snapshots_community_id_community_regions'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['accounts_users.id'], name=op.f('fk_neighbours_hot_snapshots_user_id_accounts_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_neighbours_hot_snapshots')),
    sa.UniqueConstraint('public_id', name=op.f('uq_neighbours_hot_snapshots_public_id'))
    )
    with op.batch_alter_table('neighbours_hot_snapshots', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_neighbours_hot_snapshots_expires_at'), ['expires_at'], unique=False)

    op.create_table('neighbours_mutes',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('public_id', sa.String(length=24), nullable=False),
    sa.Column('community_id', sa.BigInteger(), nullable=False),
    sa.Column('user_id', sa.BigInteger(), nullable=False),
    sa.Column('until', sa.DateTime(timezone=True), nullable=False),
    sa.Column('reason', sa.String(length=200), nullable=False),
    sa.Column('created_by_user_id', sa.BigInteger(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('lifted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('lifted_by_user_id', sa.BigInteger(), nullable=True),
    sa.CheckConstraint('until > created_at', name=op.f('ck_neighbours_mutes_until_after_start')),
    sa.ForeignKeyConstraint(['community_id'], ['community_regions.id'], name=op.f('fk_neighbours_mutes_community_id_community_regions'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['created_by_user_id'], ['accounts_users.id'], name=op.f('fk_neighbours_mutes_created_by_user_id_accounts_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['lifted_by_user_id'], ['accounts_users.id'], name=op.f('fk_neighbours_mutes_lifted_by_user_id_accounts_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['user_id'], ['accounts_users.id'], name=op.f('fk_neighbours_mutes_user_id_accounts_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_neighbours_mutes')),
    sa.UniqueConstraint('public_id', name=op.f('uq_neighbours_mutes_public_id'))
    )
    with op.batch_alter_table('neighbours_mutes', schema=None) as batch_op:
        batch_op.create_index('ix_neighbours_mutes_user_community', ['user_id', 'community_id', 'until'], unique=False)

    op.create_table('neighbours_sensitive_words',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('public_id', sa.String(length=24), nullable=False),
    sa.Column('region_id', sa.BigInteger(), nullable=True),
    sa.Column('word', sa.String(length=32), nullable=False),
    sa.Column('action', sa.Enum('mask', 'reject', name='wordaction', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('created_by_user_id', sa.BigInteger(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint('char_length(word) BETWEEN 1 AND 32 AND word = lower(word)', name=op.f('ck_neighbours_sensitive_words_word_form')),
    sa.ForeignKeyConstraint(['created_by_user_id'], ['accounts_users.id'], name=op.f('fk_neighbours_sensitive_words_created_by_user_id_accounts_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['region_id'], ['community_regions.id'], name=op.f('fk_neighbours_sensitive_words_region_id_community_regions'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_neighbours_sensitive_words')),
    sa.UniqueConstraint('public_id', name=op.f('uq_neighbours_sensitive_words_public_id')),
    sa.UniqueConstraint('region_id', 'word', name=op.f('uq_neighbours_sensitive_words_region_id_word'), postgresql_nulls_not_distinct=True)
    )
    op.create_table('neighbours_group_members',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('group_id', sa.BigInteger(), nullable=False),
    sa.Column('user_id', sa.BigInteger(), nullable=False),
    sa.Column('status', sa.Enum('pending', 'active', name='groupmemberstatus', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['group_id'], ['neighbours_groups.id'], name=op.f('fk_neighbours_group_members_group_id_neighbours_groups'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['accounts_users.id'], name=op.f('fk_neighbours_group_members_user_id_accounts_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_neighbours_group_members')),
    sa.UniqueConstraint('group_id', 'user_id', name=op.f('uq_neighbours_group_members_group_id_user_id'))
    )
    with op.batch_alter_table('neighbours_group_members', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_neighbours_group_members_user_id'), ['user_id'], unique=False)

    op.create_table('neighbours_posts',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('public_id', sa.String(length=24), nullable=False),
    sa.Column('community_id', sa.BigInteger(), nullable=False),
    sa.Column('author_user_id', sa.BigInteger(), nullable=False),
    sa.Column('author_resident_id', sa.BigInteger(), nullable=True),
    sa.Column('group_id', sa.BigInteger(), nullable=True),
    sa.Column('building_id', sa.BigInteger(), nullable=True),
    sa.Column('topic', sa.Enum('pets', 'sports', 'parenting', 'rants', 'secondhand', 'rental', 'help', 'carpool', 'other', name='topic', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('text', sa.Text(), nullable=False, comment='After the sensitive-word filter (masked words as *)'),
    sa.Column('status', sa.Enum('published', 'hidden', 'deleted', name='contentstatus', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('hidden_reason', sa.Enum('reports', 'staff', name='hidereason', native_enum=False, create_constraint=True, length=32), nullable=True),
    sa.Column('hidden_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('like_count', sa.Integer(), server_default='0', nullable=False),
    sa.Column('comment_count', sa.Integer(), server_default='0', nullable=False),
    sa.Column('report_count', sa.Integer(), server_default='0', nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("(status = 'hidden') = (hidden_reason IS NOT NULL)", name=op.f('ck_neighbours_posts_hidden_has_reason')),
    sa.CheckConstraint('char_length(text) BETWEEN 1 AND 2000', name=op.f('ck_neighbours_posts_text_length')),
    sa.CheckConstraint('like_count >= 0 AND comment_count >= 0 AND report_count >= 0', name=op.f('ck_neighbours_posts_counts_not_negative')),
    sa.ForeignKeyConstraint(['author_resident_id'], ['accounts_residents.id'], name=op.f('fk_neighbours_posts_author_resident_id_accounts_residents'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['author_user_id'], ['accounts_users.id'], name=op.f('fk_neighbours_posts_author_user_id_accounts_users'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['building_id', 'community_id'], ['community_buildings.id', 'community_buildings.community_id'], name='fk_neighbours_posts_building_id_community_buildings', ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['community_id'], ['community_regions.id'], name=op.f('fk_neighbours_posts_community_id_community_regions'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['group_id', 'community_id'], ['neighbours_groups.id', 'neighbours_groups.community_id'], name='fk_neighbours_posts_group_id_neighbours_groups', ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_neighbours_posts')),
    sa.UniqueConstraint('public_id', name=op.f('uq_neighbours_posts_public_id'))
    )
    with op.batch_alter_table('neighbours_posts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_neighbours_posts_author_user_id'), ['author_user_id'], unique=False)
        batch_op.create_index('ix_neighbours_posts_feed', ['community_id', 'created_at', 'public_id'], unique=False)
        batch_op.create_index('ix_neighbours_posts_group_feed', ['group_id', 'created_at', 'public_id'], unique=False)
        batch_op.create_index('ix_neighbours_posts_topic_feed', ['community_id', 'topic', 'created_at', 'public_id'], unique=False)

    op.create_table('neighbours_comments',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('public_id', sa.String(length=24), nullable=False),
    sa.Column('post_id', sa.BigInteger(), nullable=False),
    sa.Column('parent_id', sa.BigInteger(), nullable=True),
    sa.Column('depth', sa.SmallInteger(), server_default='0', nullable=False),
    sa.Column('parent_depth', sa.SmallInteger(), nullable=True),
    sa.Column('author_user_id', sa.BigInteger(), nullable=False),
    sa.Column('author_resident_id', sa.BigInteger(), nullable=True),
    sa.Column('reply_to_user_id', sa.BigInteger(), nullable=True),
    sa.Column('text', sa.String(length=500), nullable=False),
    sa.Column('status', sa.Enum('published', 'hidden', 'deleted', name='contentstatus', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('hidden_reason', sa.Enum('reports', 'staff', name='hidereason', native_enum=False, create_constraint=True, length=32), nullable=True),
    sa.Column('hidden_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('reply_count', sa.Integer(), server_default='0', nullable=False),
    sa.Column('report_count', sa.Integer(), server_default='0', nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("(status = 'hidden') = (hidden_reason IS NOT NULL)", name=op.f('ck_neighbours_comments_hidden_has_reason')),
    sa.CheckConstraint('(parent_id IS NULL AND depth = 0 AND parent_depth IS NULL) OR (parent_id IS NOT NULL AND depth = 1 AND parent_depth = 0)', name=op.f('ck_neighbours_comments_one_level_of_replies')),
    sa.CheckConstraint('char_length(text) BETWEEN 1 AND 500', name=op.f('ck_neighbours_comments_text_length')),
    sa.CheckConstraint('reply_count >= 0 AND report_count >= 0', name=op.f('ck_neighbours_comments_counts_not_negative')),
    sa.ForeignKeyConstraint(['author_resident_id'], ['accounts_residents.id'], name=op.f('fk_neighbours_comments_author_resident_id_accounts_residents'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['author_user_id'], ['accounts_users.id'], name=op.f('fk_neighbours_comments_author_user_id_accounts_users'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['parent_id', 'post_id', 'parent_depth'], ['neighbours_comments.id', 'neighbours_comments.post_id', 'neighbours_comments.depth'], name='fk_neighbours_comments_parent_id_neighbours_comments', ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['post_id'], ['neighbours_posts.id'], name=op.f('fk_neighbours_comments_post_id_neighbours_posts'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['reply_to_user_id'], ['accounts_users.id'], name=op.f('fk_neighbours_comments_reply_to_user_id_accounts_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_neighbours_comments')),
    sa.UniqueConstraint('id', 'post_id', 'depth', name='uq_neighbours_comments_id_post_id_depth'),
    sa.UniqueConstraint('public_id', name=op.f('uq_neighbours_comments_public_id'))
    )
    with op.batch_alter_table('neighbours_comments', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_neighbours_comments_author_user_id'), ['author_user_id'], unique=False)
        batch_op.create_index('ix_neighbours_comments_thread', ['post_id', 'parent_id', 'created_at', 'public_id'], unique=False)

    op.create_table('neighbours_likes',
    sa.Column('post_id', sa.BigInteger(), nullable=False),
    sa.Column('user_id', sa.BigInteger(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['post_id'], ['neighbours_posts.id'], name=op.f('fk_neighbours_likes_post_id_neighbours_posts'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['accounts_users.id'], name=op.f('fk_neighbours_likes_user_id_accounts_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('post_id', 'user_id', name=op.f('pk_neighbours_likes'))
    )
    op.create_table('neighbours_post_images',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('post_id', sa.BigInteger(), nullable=False),
    sa.Column('community_id', sa.BigInteger(), nullable=False),
    sa.Column('position', sa.SmallInteger(), nullable=False),
    sa.Column('file_id', sa.BigInteger(), nullable=False),
    sa.Column('file_public_id', sa.String(length=24), nullable=False),
    sa.Column('review', sa.Enum('wechat', 'staff', name='imagereview', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('status', sa.Enum('pending', 'approved', 'rejected', name='imagestatus', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('trace_id', sa.String(length=64), nullable=True),
    sa.Column('submitted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('decided_by_user_id', sa.BigInteger(), nullable=True),
    sa.Column('decision_note', sa.String(length=200), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("(status = 'pending') = (decided_at IS NULL)", name=op.f('ck_neighbours_post_images_decided_has_time')),
    sa.CheckConstraint('position BETWEEN 0 AND 8', name=op.f('ck_neighbours_post_images_position_range')),
    sa.ForeignKeyConstraint(['community_id'], ['community_regions.id'], name=op.f('fk_neighbours_post_images_community_id_community_regions'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['decided_by_user_id'], ['accounts_users.id'], name=op.f('fk_neighbours_post_images_decided_by_user_id_accounts_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['file_id'], ['core_files.id'], name=op.f('fk_neighbours_post_images_file_id_core_files'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['post_id'], ['neighbours_posts.id'], name=op.f('fk_neighbours_post_images_post_id_neighbours_posts'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_neighbours_post_images')),
    sa.UniqueConstraint('file_id', name=op.f('uq_neighbours_post_images_file_id')),
    sa.UniqueConstraint('post_id', 'position', name=op.f('uq_neighbours_post_images_post_id_position')),
    sa.UniqueConstraint('trace_id', name=op.f('uq_neighbours_post_images_trace_id'))
    )
    with op.batch_alter_table('neighbours_post_images', schema=None) as batch_op:
        batch_op.create_index('ix_neighbours_post_images_worklist', ['community_id', 'status', 'created_at', 'file_public_id'], unique=False)

    op.create_table('neighbours_reports',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('post_id', sa.BigInteger(), nullable=False),
    sa.Column('comment_id', sa.BigInteger(), nullable=True),
    sa.Column('reporter_user_id', sa.BigInteger(), nullable=False),
    sa.Column('reason', sa.Enum('spam', 'abuse', 'fraud', 'illegal', 'privacy', 'other', name='reportreason', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('note', sa.String(length=200), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['comment_id'], ['neighbours_comments.id'], name=op.f('fk_neighbours_reports_comment_id_neighbours_comments'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['post_id'], ['neighbours_posts.id'], name=op.f('fk_neighbours_reports_post_id_neighbours_posts'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['reporter_user_id'], ['accounts_users.id'], name=op.f('fk_neighbours_reports_reporter_user_id_accounts_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_neighbours_reports')),
    sa.UniqueConstraint('reporter_user_id', 'post_id', 'comment_id', name=op.f('uq_neighbours_reports_reporter_user_id_post_id_comment_id'), postgresql_nulls_not_distinct=True)
    )
    with op.batch_alter_table('neighbours_reports', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_neighbours_reports_comment_id'), ['comment_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_neighbours_reports_post_id'), ['post_id'], unique=False)


    words = sa.table(
        'neighbours_sensitive_words',
        sa.column('public_id', sa.String),
        sa.column('word', sa.String),
        sa.column('action', sa.String),
    )
    op.bulk_insert(words, [{'public_id': f'seed-word-{n}', 'word': word, 'action': action} for n, (word, action) in enumerate(SEED_WORDS, 1)])


def downgrade():
    op.drop_table('neighbours_reports')
    op.drop_table('neighbours_post_images')
    op.drop_table('neighbours_likes')
    op.drop_table('neighbours_comments')
    op.drop_table('neighbours_posts')
    op.drop_table('neighbours_group_members')
    op.drop_table('neighbours_sensitive_words')
    op.drop_table('neighbours_mutes')
    op.drop_table('neighbours_hot_snapshots')
    op.drop_table('neighbours_groups')
