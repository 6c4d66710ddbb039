"""The clinical_note table."""

from __future__ import annotations

import uuid
from enum import StrEnum

from sqlalchemy import ForeignKey, Text
from sqlalchemy.orm import Mapped, mapped_column

from kura.db.base import Base, Timestamps, UUIDPrimaryKey, str_enum


class NoteType(StrEnum):
    SESSION_NOTE = "SESSION_NOTE"
    NOTE = "NOTE"
    FORM_RESULT = "FORM_RESULT"


class ClinicalNote(UUIDPrimaryKey, Timestamps, Base):
    __tablename__ = "clinical_note"

    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organization.id", ondelete="CASCADE"), index=True
    )
    patient_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("patient.id", ondelete="CASCADE"), index=True
    )
    type: Mapped[NoteType] = mapped_column(str_enum(NoteType, "note_type"), default=NoteType.NOTE)
    content: Mapped[str] = mapped_column(Text)
    created_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL")
    )
