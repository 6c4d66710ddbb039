"""Scheduling: therapists' availability, time off, service booking policy, public self-booking
with manage tokens, and no double booking of a therapist (being written).

Revision ID: 0017_scheduling
Revises: 0016_exports
Create Date: 2026-12-02
"""

from collections.abc import Sequence

revision: str = "0017_scheduling"
down_revision: str | Sequence[str] | None = "0016_exports"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
