"""Outbound messages sent by a job: their delivery status; unread CRITICAL alerts escalate
(when, and to which staff phone). Expand-only: nullable columns.

Revision ID: 0011_outbound_delivery
Revises: 0010_monitoring_enrollment
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011_outbound_delivery"
down_revision: str | Sequence[str] | None = "0010_monitoring_enrollment"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("message_log", sa.Column("delivery_status", sa.String(16), nullable=True))
    op.add_column(
        "risk_alert", sa.Column("escalated_at", sa.DateTime(timezone=True), nullable=True)
    )
    op.add_column("user_account", sa.Column("phone", sa.String(20), nullable=True))


def downgrade() -> None:
    op.drop_column("user_account", "phone")
    op.drop_column("risk_alert", "escalated_at")
    op.drop_column("message_log", "delivery_status")
