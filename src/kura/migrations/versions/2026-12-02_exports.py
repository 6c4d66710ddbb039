"""Exports: patient and practice export jobs and their files (being written).

Revision ID: 0016_exports
Revises: 0015_mfa
Create Date: 2026-12-02
"""

from collections.abc import Sequence

revision: str = "0016_exports"
down_revision: str | Sequence[str] | None = "0015_mfa"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
