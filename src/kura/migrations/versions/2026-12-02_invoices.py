"""Invoices: the practice's invoicing details, a gapless counter per practice and year, and one
invoice per succeeded booking payment. Expand-only.

Revision ID: 0019_invoices
Revises: 0018_connect
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019_invoices"
down_revision: str | Sequence[str] | None = "0018_connect"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TS = sa.DateTime(timezone=True)


def _org_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["organization_id"],
        ["organization.id"],
        name=op.f(f"fk_{table}_organization_id_organization"),
        ondelete="CASCADE",
    )


def upgrade() -> None:
    op.create_table(
        "invoice_profile",
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("legal_name", sa.String(200), nullable=True),
        sa.Column("tax_id", sa.String(32), nullable=True),
        sa.Column("address", sa.Text(), nullable=True),
        sa.Column("vat_note", sa.Text(), nullable=False),
        sa.Column("created_at", TS, server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", TS, server_default=sa.text("now()"), nullable=False),
        _org_fk("invoice_profile"),
        sa.PrimaryKeyConstraint("organization_id", name=op.f("pk_invoice_profile")),
    )
    op.create_table(
        "invoice_counter",
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("last", sa.Integer(), nullable=False),
        _org_fk("invoice_counter"),
        sa.PrimaryKeyConstraint("organization_id", "year", name=op.f("pk_invoice_counter")),
    )
    op.create_table(
        "invoice",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("payment_id", sa.Uuid(), nullable=True),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(32), nullable=False),
        sa.Column("issued_at", TS, nullable=False),
        sa.Column("seller_name", sa.String(200), nullable=True),
        sa.Column("seller_tax_id", sa.String(32), nullable=True),
        sa.Column("seller_address", sa.Text(), nullable=True),
        sa.Column("vat_note", sa.Text(), nullable=False),
        sa.Column("customer_name", sa.String(200), nullable=False),
        sa.Column("customer_email", sa.String(320), nullable=True),
        sa.Column("description", sa.String(300), nullable=False),
        sa.Column("amount_cents", sa.Integer(), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        _org_fk("invoice"),
        sa.ForeignKeyConstraint(
            ["payment_id"],
            ["payment.id"],
            name=op.f("fk_invoice_payment_id_payment"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_invoice")),
        sa.UniqueConstraint("payment_id", name=op.f("uq_invoice_payment_id")),
        sa.UniqueConstraint(
            "organization_id",
            "year",
            "sequence",
            name=op.f("uq_invoice_organization_id_year_sequence"),
        ),
    )
    op.create_index(op.f("ix_invoice_organization_id"), "invoice", ["organization_id"])


def downgrade() -> None:
    op.drop_table("invoice")
    op.drop_table("invoice_counter")
    op.drop_table("invoice_profile")
