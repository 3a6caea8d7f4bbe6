"""Push: the audience kept in chunks (one row per fan-out job, not per resident); the inbox without its foreign keys
and its resident index (its unique key now leads with delivery and resident)

Revision ID: a4d2f6c8e1b3
Revises: e2b9c4d7f1a3
Create Date: 2026-12-03 17:00:00.000000

"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

# revision identifiers, used by Alembic.
revision = 'a4d2f6c8e1b3'
down_revision = 'e2b9c4d7f1a3'
branch_labels = None
depends_on = None

#: Residents per chunk for audiences still waiting when this runs (PUSH_BATCH_SIZE's default).
CHUNK = 1000


def upgrade():
    op.create_table('push_audience_chunks',
    sa.Column('delivery_id', sa.BigInteger(), nullable=False),
    sa.Column('chunk', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('resident_ids', postgresql.ARRAY(sa.BigInteger()), nullable=False),
    sa.ForeignKeyConstraint(['delivery_id'], ['push_deliveries.id'], name=op.f('fk_push_audience_chunks_delivery_id_push_deliveries'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('delivery_id', 'chunk', name=op.f('pk_push_audience_chunks'))
    )
    # Audiences not fanned out yet: the residents past the delivery's cursor (the old jobs walked them in id order),
    # in chunks. Their pending fan_out jobs (args [delivery_id]) fan out every chunk left.
    op.execute(f"""
        INSERT INTO push_audience_chunks (delivery_id, chunk, resident_ids)
        SELECT delivery_id, n / {CHUNK}, array_agg(resident_id ORDER BY resident_id)
          FROM (SELECT a.delivery_id, a.resident_id,
                       row_number() OVER (PARTITION BY a.delivery_id ORDER BY a.resident_id) - 1 AS n
                  FROM push_audience a
                  JOIN push_deliveries d ON d.id = a.delivery_id
                 WHERE d.fanned_out_at IS NULL AND a.resident_id > d.fan_out_cursor) ranked
         GROUP BY delivery_id, n / {CHUNK}
    """)
    op.drop_table('push_audience')

    # Each foreign key is a trigger per inserted row (a third of a fan-out's write); accounts, residents and
    # deliveries are never deleted, and account deletion removes its inbox rows itself.
    op.drop_constraint('fk_push_inbox_delivery_id_push_deliveries', 'push_inbox', type_='foreignkey')
    op.drop_constraint('fk_push_inbox_user_id_accounts_users', 'push_inbox', type_='foreignkey')
    op.drop_constraint('fk_push_inbox_resident_id_accounts_residents', 'push_inbox', type_='foreignkey')
    op.drop_index('ix_push_inbox_resident_id', table_name='push_inbox')
    op.create_unique_constraint(op.f('uq_push_inbox_delivery_id_resident_id_user_id'), 'push_inbox', ['delivery_id', 'resident_id', 'user_id'])
    op.drop_constraint('uq_push_inbox_delivery_id_user_id_resident_id', 'push_inbox', type_='unique')


def downgrade():
    # A notice published since the upgrade copies its audience in a job the old code does not have: downgrading
    # before that job ran would leave its delivery with no audience, sent to nobody and never finished.
    waiting = op.get_bind().execute(sa.text(
        "SELECT count(*) FROM core_outbox WHERE job = 'app.push.fanout.snapshot_audience'"
        " AND status IN ('pending', 'enqueued')"
    )).scalar()
    if waiting:
        raise RuntimeError(
            f"{waiting} notice audience(s) still to be copied (outbox job app.push.fanout.snapshot_audience): "
            "let the push workers run them, then downgrade"
        )
    # Rows whose account, resident or delivery is gone (the app deletes none) would break the foreign keys: they go.
    op.execute("""
        DELETE FROM push_inbox i
         WHERE NOT EXISTS (SELECT 1 FROM accounts_users u WHERE u.id = i.user_id)
            OR NOT EXISTS (SELECT 1 FROM accounts_residents r WHERE r.id = i.resident_id)
            OR NOT EXISTS (SELECT 1 FROM push_deliveries d WHERE d.id = i.delivery_id)
    """)
    op.create_unique_constraint(op.f('uq_push_inbox_delivery_id_user_id_resident_id'), 'push_inbox', ['delivery_id', 'user_id', 'resident_id'])
    op.drop_constraint('uq_push_inbox_delivery_id_resident_id_user_id', 'push_inbox', type_='unique')
    op.create_index(op.f('ix_push_inbox_resident_id'), 'push_inbox', ['resident_id'], unique=False)
    op.create_foreign_key(op.f('fk_push_inbox_resident_id_accounts_residents'), 'push_inbox', 'accounts_residents', ['resident_id'], ['id'], ondelete='CASCADE')
    op.create_foreign_key(op.f('fk_push_inbox_user_id_accounts_users'), 'push_inbox', 'accounts_users', ['user_id'], ['id'], ondelete='CASCADE')
    op.create_foreign_key(op.f('fk_push_inbox_delivery_id_push_deliveries'), 'push_inbox', 'push_deliveries', ['delivery_id'], ['id'], ondelete='CASCADE')

    op.create_table('push_audience',
    sa.Column('delivery_id', sa.BigInteger(), nullable=False),
    sa.Column('resident_id', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['delivery_id'], ['push_deliveries.id'], name=op.f('fk_push_audience_delivery_id_push_deliveries'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('delivery_id', 'resident_id', name=op.f('pk_push_audience'))
    )
    # The old jobs walk the audience after the cursor, which no chunked fan-out moved: start them from the beginning
    # (rows already written are skipped by the inbox's unique key).
    op.execute("""
        INSERT INTO push_audience (delivery_id, resident_id)
        SELECT delivery_id, unnest(resident_ids) FROM push_audience_chunks
        ON CONFLICT DO NOTHING
    """)
    op.execute("""
        UPDATE push_deliveries d SET fan_out_cursor = 0
         WHERE d.fanned_out_at IS NULL AND EXISTS (SELECT 1 FROM push_audience_chunks c WHERE c.delivery_id = d.id)
    """)
    # Chunk jobs not run yet (or dead, which an admin may retry) name (delivery, chunk); the old job takes the
    # delivery alone and walks all of it.
    op.execute("""
        UPDATE core_outbox SET args = jsonb_build_array(args -> 0)
         WHERE job = 'app.push.fanout.fan_out' AND status IN ('pending', 'enqueued', 'dead')
           AND jsonb_array_length(args) > 1
    """)
    op.drop_table('push_audience_chunks')
