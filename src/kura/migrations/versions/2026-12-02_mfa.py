"""MFA: TOTP secrets, recovery codes, pending and step-up sessions, the practice's setting.
Expand-only.

Revision ID: 0015_mfa
Revises: 0014_clinical_records
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015_mfa"
down_revision: str | Sequence[str] | None = "0014_clinical_records"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "user_mfa",
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("secret_sealed", sa.String(length=200), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column("enabled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_step", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["user_account.id"],
            name=op.f("fk_user_mfa_user_id_user_account"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_user_mfa")),
    )
    op.create_table(
        "mfa_recovery_code",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["user_account.id"],
            name=op.f("fk_mfa_recovery_code_user_id_user_account"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mfa_recovery_code")),
        sa.UniqueConstraint("code_hash", name=op.f("uq_mfa_recovery_code_code_hash")),
    )
    op.create_index(
        op.f("ix_mfa_recovery_code_user_id"), "mfa_recovery_code", ["user_id"], unique=False
    )
    op.add_column(
        "auth_session",
        sa.Column("mfa_pending", sa.Boolean(), server_default="false", nullable=False),
    )
    op.add_column(
        "auth_session", sa.Column("mfa_verified_at", sa.DateTime(timezone=True), nullable=True)
    )
    op.add_column(
        "organization",
        sa.Column("mfa_required", sa.Boolean(), server_default="false", nullable=False),
    )


def downgrade() -> None:
    op.drop_column("organization", "mfa_required")
    op.drop_column("auth_session", "mfa_verified_at")
    op.drop_column("auth_session", "mfa_pending")
    op.drop_index(op.f("ix_mfa_recovery_code_user_id"), table_name="mfa_recovery_code")
    op.drop_table("mfa_recovery_code")
    op.drop_table("user_mfa")
