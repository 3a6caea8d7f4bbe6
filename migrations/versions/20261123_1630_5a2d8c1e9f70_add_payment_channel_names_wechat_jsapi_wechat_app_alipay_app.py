"""Add the payment channel names wechat_jsapi, wechat_app and alipay_app

Revision ID: 5a2d8c1e9f70
Revises: 07a39ea4b97d
Create Date: 2026-11-23 16:30:00

"""
from alembic import op

# revision identifiers, used by Alembic.
revision = '5a2d8c1e9f70'
down_revision = '07a39ea4b97d'
branch_labels = None
depends_on = None

OLD = ('sandbox', 'wechatpay', 'alipay')
NEW = ('sandbox', 'wechatpay', 'wechat_jsapi', 'wechat_app', 'alipay', 'alipay_app')
TABLES = ('payments_payments', 'payments_captures')


def _replace(values):
    listed = ", ".join(f"'{value}'" for value in values)
    for table in TABLES:
        name = f'ck_{table}_paymentchannel'
        op.drop_constraint(op.f(name), table, type_='check')
        op.create_check_constraint(op.f(name), table, f"channel IN ({listed})")


def upgrade():
    _replace(NEW)


def downgrade():
    _replace(OLD)
