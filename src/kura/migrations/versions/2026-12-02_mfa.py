"""MFA: TOTP secrets, recovery codes, pending and step-up sessions (being written).

Revision ID: 0015_mfa
Revises: 0014_clinical_records
Create Date: 2026-12-02
"""

from collections.abc import Sequence

revision: str = "0015_mfa"
down_revision: str | Sequence[str] | None = "0014_clinical_records"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
