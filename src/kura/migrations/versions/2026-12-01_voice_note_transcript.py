"""Voice notes: the transcript in its own column, so the caption is kept (expand-only).

Revision ID: 0009_voice_note_transcript
Revises: 0008_patient_search_trgm
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009_voice_note_transcript"
down_revision: str | Sequence[str] | None = "0008_patient_search_trgm"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("message_log", sa.Column("transcript", sa.Text(), nullable=True))


def downgrade() -> None:
    op.drop_column("message_log", "transcript")
