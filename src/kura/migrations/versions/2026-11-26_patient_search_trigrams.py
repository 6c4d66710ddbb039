"""Trigram indexes for the patient search (pg_trgm): expand-only.

pg_trgm is a trusted extension (PostgreSQL 13+): the app's own user may create it, on Cloud SQL
too, and a restore (which replays CREATE EXTENSION) needs no extra privilege.

Revision ID: 0008_patient_search_trgm
Revises: 0007_patient_list_index
Create Date: 2026-11-26
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0008_patient_search_trgm"
down_revision: str | Sequence[str] | None = "0007_patient_list_index"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = ("full_name", "email", "phone")


def upgrade() -> None:
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for column in COLUMNS:
        op.create_index(
            f"ix_patient_{column}_trgm",
            "patient",
            [column],
            postgresql_using="gin",
            postgresql_ops={column: "gin_trgm_ops"},
            postgresql_with={"fastupdate": "off"},  # see kura.patients.models
        )


def downgrade() -> None:
    for column in COLUMNS:
        op.drop_index(f"ix_patient_{column}_trgm", table_name="patient")
    # The extension stays: other objects may have come to use it.
