"""Stripe Connect: what Stripe last said of the practice's connected account; refunds kept on
the payment. Expand-only.

Revision ID: 0018_connect
Revises: 0017_scheduling
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018_connect"
down_revision: str | Sequence[str] | None = "0017_scheduling"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FLAGS = ("stripe_charges_enabled", "stripe_payouts_enabled", "stripe_details_submitted")


def upgrade() -> None:
    for flag in FLAGS:
        op.add_column(
            "organization", sa.Column(flag, sa.Boolean(), server_default="false", nullable=False)
        )
    op.add_column(
        "organization",
        sa.Column("stripe_account_synced_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.add_column(
        "payment", sa.Column("refunded_cents", sa.Integer(), server_default="0", nullable=False)
    )
    op.create_check_constraint(
        op.f("ck_payment_refund_within_amount"),
        "payment",
        "refunded_cents >= 0 AND refunded_cents <= amount_cents",
    )


def downgrade() -> None:
    op.drop_constraint(op.f("ck_payment_refund_within_amount"), "payment", type_="check")
    op.drop_column("payment", "refunded_cents")
    op.drop_column("organization", "stripe_account_synced_at")
    for flag in reversed(FLAGS):
        op.drop_column("organization", flag)
