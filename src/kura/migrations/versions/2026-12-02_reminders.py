"""Booking reminders: when the day-before reminder went out. Expand-only.

Revision ID: 0020_reminders
Revises: 0019_invoices
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0020_reminders"
down_revision: str | Sequence[str] | None = "0019_invoices"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "booking", sa.Column("reminder_sent_at", sa.DateTime(timezone=True), nullable=True)
    )


def downgrade() -> None:
    op.drop_column("booking", "reminder_sent_at")
