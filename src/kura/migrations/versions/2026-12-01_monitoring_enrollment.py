"""Verified WhatsApp enrollment: single-use codes and the phone each patient bound (expand-only).

Existing patients with `monitoring_consent` are not bound: their messages stop being routed
until they send an enrollment code from their phone (docs/monitoring.md, "Moving to
enrollment").

Revision ID: 0010_monitoring_enrollment
Revises: 0009_voice_note_transcript
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010_monitoring_enrollment"
down_revision: str | Sequence[str] | None = "0009_voice_note_transcript"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "patient",
        sa.Column("monitoring_status", sa.String(16), nullable=False, server_default="none"),
    )
    op.add_column("patient", sa.Column("monitoring_phone", sa.String(20), nullable=True))
    op.add_column("patient", sa.Column("monitoring_number", sa.String(20), nullable=True))
    op.add_column(
        "patient", sa.Column("monitoring_enrolled_at", sa.DateTime(timezone=True), nullable=True)
    )
    op.add_column("patient", sa.Column("monitoring_enrollment_sid", sa.String(64), nullable=True))
    # One active patient per phone and receiving number: nobody else's record can divert it.
    op.create_index(
        "uq_patient_active_binding",
        "patient",
        ["monitoring_phone", "monitoring_number"],
        unique=True,
        postgresql_where=sa.text("monitoring_status = 'active'"),
    )
    op.create_table(
        "monitoring_enrollment",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("patient_id", sa.Uuid(), nullable=False),
        sa.Column("code_hash", sa.String(64), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_by_id", sa.Uuid(), nullable=True),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organization.id"],
            name=op.f("fk_monitoring_enrollment_organization_id_organization"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"],
            ["patient.id"],
            name=op.f("fk_monitoring_enrollment_patient_id_patient"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["created_by_id"],
            ["user_account.id"],
            name=op.f("fk_monitoring_enrollment_created_by_id_user_account"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_monitoring_enrollment")),
        sa.UniqueConstraint("code_hash", name=op.f("uq_monitoring_enrollment_code_hash")),
    )
    op.create_index(
        op.f("ix_monitoring_enrollment_patient_id"), "monitoring_enrollment", ["patient_id"]
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_monitoring_enrollment_patient_id"), table_name="monitoring_enrollment")
    op.drop_table("monitoring_enrollment")
    op.drop_index("uq_patient_active_binding", table_name="patient")
    for column in (
        "monitoring_enrollment_sid",
        "monitoring_enrolled_at",
        "monitoring_number",
        "monitoring_phone",
        "monitoring_status",
    ):
        op.drop_column("patient", column)
