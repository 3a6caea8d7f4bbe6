"""Add profit-share returns (分账回退) before refunds, and the Alipay royalty relation bound per seller

Revision ID: e2b9c4d7f1a3
Revises: d5e1f3a7c9b2
Create Date: 2026-12-03 14:00:00

"""

from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

# revision identifiers, used by Alembic.
revision = "e2b9c4d7f1a3"
down_revision = "d5e1f3a7c9b2"
branch_labels = None
depends_on = None


def upgrade():
    op.add_column("payments_gateway_alipay_sellers", sa.Column("royalty_account", sa.String(length=32), nullable=True))
    op.add_column(
        "payments_gateway_alipay_sellers", sa.Column("royalty_bound_at", sa.DateTime(timezone=True), nullable=True)
    )
    op.create_table(
        "payments_gateway_share_returns",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("share_id", sa.BigInteger(), nullable=False),
        sa.Column("refund_id", sa.BigInteger(), nullable=False),
        sa.Column("out_return_no", sa.String(length=32), nullable=False),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "pending",
                "processing",
                "finished",
                name="returnstatus",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("channel_return_id", sa.String(length=64), nullable=True),
        sa.Column("raw", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "out_return_no ~ '^[A-Za-z0-9_-]{1,32}$'",
            name=op.f("ck_payments_gateway_share_returns_out_return_no_format"),
        ),
        sa.CheckConstraint("amount_fen >= 0", name=op.f("ck_payments_gateway_share_returns_amount_not_negative")),
        sa.ForeignKeyConstraint(
            ["share_id"],
            ["payments_gateway_profit_shares.id"],
            name=op.f("fk_payments_gateway_share_returns_share_id_payments_gateway_profit_shares"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["refund_id"],
            ["payments_refunds.id"],
            name=op.f("fk_payments_gateway_share_returns_refund_id_payments_refunds"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payments_gateway_share_returns")),
        sa.UniqueConstraint("out_return_no", name=op.f("uq_payments_gateway_share_returns_out_return_no")),
        # One return per refund: a refund takes commission back once, however often its job runs.
        sa.UniqueConstraint("refund_id", name=op.f("uq_payments_gateway_share_returns_refund_id")),
    )
    op.create_index(
        op.f("ix_payments_gateway_share_returns_share_id"), "payments_gateway_share_returns", ["share_id"], unique=False
    )


def downgrade():
    op.drop_index(op.f("ix_payments_gateway_share_returns_share_id"), table_name="payments_gateway_share_returns")
    op.drop_table("payments_gateway_share_returns")
    op.drop_column("payments_gateway_alipay_sellers", "royalty_bound_at")
    op.drop_column("payments_gateway_alipay_sellers", "royalty_account")
