"""Add core_files: uploaded files with their uploader, owning record, visibility, sniffed type and storage key

Revision ID: 5d60c83eb2b5
Revises: c54b5fa7c1c5
Create Date: 2026-11-23 12:31:00.000000

"""
from alembic import op
import sqlalchemy as sa

# revision identifiers, used by Alembic.
revision = '5d60c83eb2b5'
down_revision = 'c54b5fa7c1c5'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('core_files',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('public_id', sa.String(length=24), nullable=False),
    sa.Column('uploader_id', sa.BigInteger(), nullable=False, comment='The user who uploaded the file (its owner)'),
    sa.Column('owner_kind', sa.String(length=32), nullable=True, comment='Kind of record the file belongs to (registered owner kind); null until attached'),
    sa.Column('owner_id', sa.BigInteger(), nullable=True, comment='Id of the record the file belongs to'),
    sa.Column('visibility', sa.Enum('private', 'public', name='filevisibility', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('content_type', sa.String(length=100), nullable=False, comment="Sniffed from the bytes, never the client's"),
    sa.Column('size', sa.BigInteger(), nullable=False, comment='Bytes'),
    sa.Column('sha256', sa.String(length=64), nullable=False, comment='Hex digest of the bytes'),
    sa.Column('storage_key', sa.String(length=200), nullable=False),
    sa.Column('filename', sa.String(length=255), nullable=False, comment='Original filename, sanitised'),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint('size > 0', name=op.f('ck_core_files_size_positive')),
    sa.CheckConstraint('(owner_kind IS NULL) = (owner_id IS NULL)', name=op.f('ck_core_files_owner_complete')),
    sa.ForeignKeyConstraint(['uploader_id'], ['accounts_users.id'], name=op.f('fk_core_files_uploader_id_accounts_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_core_files')),
    sa.UniqueConstraint('public_id', name=op.f('uq_core_files_public_id')),
    sa.UniqueConstraint('storage_key', name=op.f('uq_core_files_storage_key'))
    )
    with op.batch_alter_table('core_files', schema=None) as batch_op:
        batch_op.create_index('ix_core_files_owner', ['owner_kind', 'owner_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_core_files_uploader_id'), ['uploader_id'], unique=False)


def downgrade():
    with op.batch_alter_table('core_files', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_core_files_uploader_id'))
        batch_op.drop_index('ix_core_files_owner')

    op.drop_table('core_files')
