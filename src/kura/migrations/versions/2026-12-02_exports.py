"""Exports: patient and practice export jobs and their files.

Revision ID: 0016_exports
Revises: 0015_mfa
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016_exports"
down_revision: str | Sequence[str] | None = "0015_mfa"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "data_export",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("requested_by_id", sa.Uuid(), nullable=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("patient_id", sa.Uuid(), nullable=True),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("progress", sa.Integer(), nullable=False),
        sa.Column("blob_name", sa.String(100), nullable=True),
        sa.Column("size_bytes", sa.BigInteger(), nullable=True),
        sa.Column("error", sa.String(300), nullable=True),
        sa.Column("completed_at", TS, nullable=True),
        sa.Column("expires_at", TS, nullable=True),
        sa.Column("created_at", TS, server_default=sa.func.now(), nullable=False),
        sa.Column("updated_at", TS, server_default=sa.func.now(), nullable=False),
        sa.CheckConstraint(
            "kind IN ('patient', 'practice')", name=op.f("ck_data_export_export_kind")
        ),
        sa.CheckConstraint(
            "status IN ('QUEUED', 'RUNNING', 'READY', 'FAILED', 'EXPIRED')",
            name=op.f("ck_data_export_export_status"),
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organization.id"],
            name=op.f("fk_data_export_organization_id_organization"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["requested_by_id"],
            ["user_account.id"],
            name=op.f("fk_data_export_requested_by_id_user_account"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"],
            ["patient.id"],
            name=op.f("fk_data_export_patient_id_patient"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_data_export")),
    )
    op.create_index(
        op.f("ix_data_export_organization_id"), "data_export", ["organization_id"], unique=False
    )
    op.create_index(
        "ix_data_export_requester", "data_export", ["requested_by_id", "created_at"], unique=False
    )
    op.create_index(
        "ix_data_export_expiry",
        "data_export",
        ["expires_at"],
        unique=False,
        postgresql_where=sa.text("status = 'READY'"),
    )
    # An export's (and the audit filter's) access trail of a record: details.patient_id.
    op.create_index(
        "ix_audit_event_patient",
        "audit_event",
        ["organization_id", sa.text("(details ->> 'patient_id')")],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_audit_event_patient", table_name="audit_event")
    op.drop_table("data_export")
