"""Rectifying invoices for refunds: a series of their own ("R"), each pointing at the invoice
it corrects. Compatible with the code before it: rows it writes get series '' by default.

Revision ID: 0021_rectifying_invoices
Revises: 0020_reminders
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0021_rectifying_invoices"
down_revision: str | Sequence[str] | None = "0020_reminders"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    series = sa.Column("series", sa.String(8), nullable=False, server_default="")
    op.add_column("invoice_counter", series)
    op.drop_constraint("pk_invoice_counter", "invoice_counter", type_="primary")
    op.create_primary_key(
        "pk_invoice_counter", "invoice_counter", ["organization_id", "series", "year"]
    )
    op.add_column("invoice", sa.Column("series", sa.String(8), nullable=False, server_default=""))
    op.add_column(
        "invoice",
        sa.Column(
            "rectifies_id",
            sa.Uuid(),
            sa.ForeignKey("invoice.id", name="fk_invoice_rectifies_id_invoice", ondelete="CASCADE"),
            nullable=True,
        ),
    )
    # The payment's refunded total the rectification brings the invoice to: one per step.
    op.add_column("invoice", sa.Column("refunded_total_cents", sa.Integer(), nullable=True))
    op.drop_constraint("uq_invoice_organization_id_year_sequence", "invoice", type_="unique")
    op.create_unique_constraint(
        "uq_invoice_organization_id_series_year_sequence",
        "invoice",
        ["organization_id", "series", "year", "sequence"],
    )
    op.create_unique_constraint(
        "uq_invoice_rectifies_id_refunded_total_cents",
        "invoice",
        ["rectifies_id", "refunded_total_cents"],
    )


def downgrade() -> None:
    op.execute("DELETE FROM invoice WHERE series <> ''")
    op.execute("DELETE FROM invoice_counter WHERE series <> ''")
    op.drop_constraint("uq_invoice_rectifies_id_refunded_total_cents", "invoice", type_="unique")
    op.drop_constraint("uq_invoice_organization_id_series_year_sequence", "invoice", type_="unique")
    op.create_unique_constraint(
        "uq_invoice_organization_id_year_sequence",
        "invoice",
        ["organization_id", "year", "sequence"],
    )
    op.drop_column("invoice", "refunded_total_cents")
    op.drop_column("invoice", "rectifies_id")
    op.drop_column("invoice", "series")
    op.drop_constraint("pk_invoice_counter", "invoice_counter", type_="primary")
    op.create_primary_key("pk_invoice_counter", "invoice_counter", ["organization_id", "year"])
    op.drop_column("invoice_counter", "series")
