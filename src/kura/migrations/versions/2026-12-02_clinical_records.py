"""Records that hold up: signed notes with versions and addenda, soft deletion, patient
restriction with a retention date, the practice's retention setting and closure. Expand-only.

Existing notes become unsigned drafts (nothing was ever signed before); the old revision keeps
reading and writing the columns it knows.

Revision ID: 0014_clinical_records
Revises: 0013_patient_search_fold
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0014_clinical_records"
down_revision: str | Sequence[str] | None = "0013_patient_search_fold"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TS = sa.DateTime(timezone=True)


def _user_fk(table: str, column: str) -> None:
    op.add_column(table, sa.Column(column, sa.Uuid(), nullable=True))
    op.create_foreign_key(
        op.f(f"fk_{table}_{column}_user_account"),
        table,
        "user_account",
        [column],
        ["id"],
        ondelete="SET NULL",
    )


def _enum_check(table: str, name: str, column: str, values: Sequence[str]) -> None:
    listed = ", ".join(f"'{v}'" for v in values)
    op.create_check_constraint(op.f(f"ck_{table}_{name}"), table, f"{column} IN ({listed})")


def upgrade() -> None:
    note = "clinical_note"
    op.add_column(note, sa.Column("template", sa.String(32), server_default="FREE", nullable=False))
    _enum_check(note, "note_template", "template", ["FREE", "SOAP", "PRACTICE"])
    op.add_column(note, sa.Column("sections", postgresql.JSONB(), nullable=True))
    op.add_column(note, sa.Column("status", sa.String(32), server_default="DRAFT", nullable=False))
    _enum_check(note, "note_status", "status", ["DRAFT", "SIGNED"])
    op.add_column(note, sa.Column("version", sa.Integer(), server_default="1", nullable=False))
    op.add_column(
        note, sa.Column("is_private", sa.Boolean(), server_default="false", nullable=False)
    )
    op.add_column(note, sa.Column("booking_id", sa.Uuid(), nullable=True))
    op.create_foreign_key(
        op.f("fk_clinical_note_booking_id_booking"),
        note,
        "booking",
        ["booking_id"],
        ["id"],
        ondelete="SET NULL",
    )
    op.add_column(note, sa.Column("signed_at", TS, nullable=True))
    _user_fk(note, "signed_by_id")
    op.add_column(note, sa.Column("struck_at", TS, nullable=True))
    _user_fk(note, "struck_by_id")
    op.add_column(note, sa.Column("strike_reason", sa.Text(), nullable=True))
    op.add_column(note, sa.Column("deleted_at", TS, nullable=True))
    _user_fk(note, "deleted_by_id")
    op.create_check_constraint(
        op.f("ck_clinical_note_signed_has_signature"),
        note,
        "(status = 'SIGNED') = (signed_at IS NOT NULL)",
    )
    op.create_check_constraint(
        op.f("ck_clinical_note_only_signed_notes_struck"),
        note,
        "struck_at IS NULL OR status = 'SIGNED'",
    )
    op.create_check_constraint(
        op.f("ck_clinical_note_only_drafts_deleted"), note, "deleted_at IS NULL OR status = 'DRAFT'"
    )
    op.create_index(
        "ix_clinical_note_deleted_at",
        note,
        ["deleted_at"],
        postgresql_where=sa.text("deleted_at IS NOT NULL"),
    )

    op.create_table(
        "clinical_note_version",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("note_id", sa.Uuid(), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("type", sa.String(32), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("sections", postgresql.JSONB(), nullable=True),
        sa.Column("written_at", TS, nullable=False),
        sa.Column("replaced_at", TS, nullable=False),
        sa.Column("replaced_by_id", sa.Uuid(), nullable=True),
        sa.CheckConstraint(
            "type IN ('SESSION_NOTE', 'NOTE', 'FORM_RESULT')",
            name=op.f("ck_clinical_note_version_note_version_type"),
        ),
        sa.ForeignKeyConstraint(
            ["note_id"],
            ["clinical_note.id"],
            name=op.f("fk_clinical_note_version_note_id_clinical_note"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organization.id"],
            name=op.f("fk_clinical_note_version_organization_id_organization"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["replaced_by_id"],
            ["user_account.id"],
            name=op.f("fk_clinical_note_version_replaced_by_id_user_account"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_clinical_note_version")),
        sa.UniqueConstraint(
            "note_id", "version", name=op.f("uq_clinical_note_version_note_id_version")
        ),
    )
    op.create_index(op.f("ix_clinical_note_version_note_id"), "clinical_note_version", ["note_id"])
    op.create_table(
        "clinical_note_addendum",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("note_id", sa.Uuid(), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("created_by_id", sa.Uuid(), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("signed_by_name", sa.String(200), nullable=False),
        sa.ForeignKeyConstraint(
            ["note_id"],
            ["clinical_note.id"],
            name=op.f("fk_clinical_note_addendum_note_id_clinical_note"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organization.id"],
            name=op.f("fk_clinical_note_addendum_organization_id_organization"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["created_by_id"],
            ["user_account.id"],
            name=op.f("fk_clinical_note_addendum_created_by_id_user_account"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_clinical_note_addendum")),
    )
    op.create_index(
        op.f("ix_clinical_note_addendum_note_id"), "clinical_note_addendum", ["note_id"]
    )

    op.add_column("risk_alert", sa.Column("note_id", sa.Uuid(), nullable=True))
    op.create_foreign_key(
        op.f("fk_risk_alert_note_id_clinical_note"),
        "risk_alert",
        "clinical_note",
        ["note_id"],
        ["id"],
        ondelete="SET NULL",
    )
    op.add_column("patient", sa.Column("restricted_at", TS, nullable=True))
    _user_fk("patient", "restricted_by_id")
    op.add_column("patient", sa.Column("discharged_on", sa.Date(), nullable=True))
    op.add_column("patient", sa.Column("retain_until", sa.Date(), nullable=True))
    op.create_index(op.f("ix_patient_retain_until"), "patient", ["retain_until"])

    org = "organization"
    op.add_column(
        org,
        sa.Column("record_retention_years", sa.Integer(), server_default="5", nullable=False),
    )
    op.create_check_constraint(
        op.f("ck_organization_record_retention_at_least_5_years"),
        org,
        "record_retention_years BETWEEN 5 AND 50",
    )
    op.add_column(org, sa.Column("note_sections", postgresql.JSONB(), nullable=True))
    op.add_column(org, sa.Column("closure_requested_at", TS, nullable=True))
    op.add_column(org, sa.Column("closes_at", TS, nullable=True))


def downgrade() -> None:
    org = "organization"
    for column in ("closes_at", "closure_requested_at", "note_sections"):
        op.drop_column(org, column)
    op.drop_constraint(
        op.f("ck_organization_record_retention_at_least_5_years"), org, type_="check"
    )
    op.drop_column(org, "record_retention_years")
    op.drop_index(op.f("ix_patient_retain_until"), table_name="patient")
    for column in ("retain_until", "discharged_on", "restricted_by_id", "restricted_at"):
        op.drop_column("patient", column)
    op.drop_column("risk_alert", "note_id")
    op.drop_table("clinical_note_addendum")
    op.drop_table("clinical_note_version")
    op.drop_index("ix_clinical_note_deleted_at", table_name="clinical_note")
    for column in (
        "deleted_by_id",
        "deleted_at",
        "strike_reason",
        "struck_by_id",
        "struck_at",
        "signed_by_id",
        "signed_at",
        "booking_id",
        "is_private",
        "version",
        "status",
        "sections",
        "template",
    ):
        op.drop_column("clinical_note", column)
