"""Reminders at several offsets and channels: one row per (booking, hours ahead, channel), so
each goes out once. Expand-only: booking.reminder_sent_at stays (no longer written).

Revision ID: 0022_booking_reminders
Revises: 0021_rectifying_invoices
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0022_booking_reminders"
down_revision: str | Sequence[str] | None = "0021_rectifying_invoices"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "booking_reminder",
        sa.Column("booking_id", sa.Uuid(), nullable=False),
        sa.Column("hours_ahead", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("queued_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["booking_id"],
            ["booking.id"],
            name=op.f("fk_booking_reminder_booking_id_booking"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "booking_id", "hours_ahead", "channel", name=op.f("pk_booking_reminder")
        ),
    )


def downgrade() -> None:
    op.drop_table("booking_reminder")
