"""Add service ratings' photos and the vendor's reply, and rating totals on service listings

Revision ID: d5e1f3a7c9b2
Revises: a7c3e9d1b5f2
Create Date: 2026-12-03 09:30:00

"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

# revision identifiers, used by Alembic.
revision = 'd5e1f3a7c9b2'
down_revision = 'a7c3e9d1b5f2'
branch_labels = None
depends_on = None


def upgrade():
    op.add_column('marketplace_services', sa.Column('rating_count', sa.Integer(), server_default='0', nullable=False))
    op.add_column('marketplace_services', sa.Column('rating_sum', sa.Integer(), server_default='0', nullable=False))
    op.create_check_constraint(
        op.f('ck_marketplace_services_rating_totals'), 'marketplace_services',
        'rating_sum BETWEEN rating_count AND 5 * rating_count',
    )
    op.add_column('marketplace_service_orders', sa.Column(
        'rating_photo_ids', postgresql.ARRAY(sa.String(length=24)), server_default='{}', nullable=False))
    op.add_column('marketplace_service_orders', sa.Column('vendor_reply', sa.String(length=500), nullable=True))
    op.add_column('marketplace_service_orders', sa.Column('vendor_replied_at', sa.DateTime(timezone=True), nullable=True))
    op.create_check_constraint(
        op.f('ck_marketplace_service_orders_at_most_nine_rating_photos'), 'marketplace_service_orders',
        'cardinality(rating_photo_ids) <= 9',
    )
    # Listings rated before this revision: their totals from the bookings.
    op.execute(
        "UPDATE marketplace_services s SET rating_count = t.n, rating_sum = t.total FROM ("
        " SELECT service_id, count(*) AS n, sum(rating) AS total FROM marketplace_service_orders"
        " WHERE rating IS NOT NULL GROUP BY service_id) t WHERE t.service_id = s.id"
    )


def downgrade():
    op.drop_constraint(op.f('ck_marketplace_service_orders_at_most_nine_rating_photos'), 'marketplace_service_orders',
                       type_='check')
    op.drop_column('marketplace_service_orders', 'vendor_replied_at')
    op.drop_column('marketplace_service_orders', 'vendor_reply')
    op.drop_column('marketplace_service_orders', 'rating_photo_ids')
    op.drop_constraint(op.f('ck_marketplace_services_rating_totals'), 'marketplace_services', type_='check')
    op.drop_column('marketplace_services', 'rating_sum')
    op.drop_column('marketplace_services', 'rating_count')
