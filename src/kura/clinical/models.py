"""Clinical notes, their superseded versions and their addenda."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column, relationship

from kura.db.base import Base, Timestamps, UUIDPrimaryKey, str_enum, utcnow


class NoteType(StrEnum):
    SESSION_NOTE = "SESSION_NOTE"
    NOTE = "NOTE"
    FORM_RESULT = "FORM_RESULT"


class NoteStatus(StrEnum):
    DRAFT = "DRAFT"
    SIGNED = "SIGNED"


class NoteTemplate(StrEnum):
    FREE = "FREE"  # one text
    SOAP = "SOAP"  # subjective, objective, assessment, plan
    PRACTICE = "PRACTICE"  # the practice's own headings (organization.note_sections)


class ClinicalNote(UUIDPrimaryKey, Timestamps, Base):
    __tablename__ = "clinical_note"
    __table_args__ = (
        CheckConstraint(
            "(status = 'SIGNED') = (signed_at IS NOT NULL)", name="signed_has_signature"
        ),
        CheckConstraint("struck_at IS NULL OR status = 'SIGNED'", name="only_signed_notes_struck"),
        CheckConstraint("deleted_at IS NULL OR status = 'DRAFT'", name="only_drafts_deleted"),
        Index(
            "ix_clinical_note_deleted_at", "deleted_at", postgresql_where="deleted_at IS NOT NULL"
        ),
    )

    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organization.id", ondelete="CASCADE"), index=True
    )
    patient_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("patient.id", ondelete="CASCADE"), index=True
    )
    type: Mapped[NoteType] = mapped_column(str_enum(NoteType, "note_type"), default=NoteType.NOTE)
    template: Mapped[NoteTemplate] = mapped_column(
        str_enum(NoteTemplate, "note_template"),
        default=NoteTemplate.FREE,
        server_default=NoteTemplate.FREE.value,
    )
    # The text; for SOAP and practice templates, the sections joined under their headings.
    content: Mapped[str] = mapped_column(Text)
    sections: Mapped[list[dict[str, str]] | None] = mapped_column(JSONB)  # [{heading, text}]
    status: Mapped[NoteStatus] = mapped_column(
        str_enum(NoteStatus, "note_status"),
        default=NoteStatus.DRAFT,
        server_default=NoteStatus.DRAFT.value,
    )
    version: Mapped[int] = mapped_column(default=1, server_default="1")
    is_private: Mapped[bool] = mapped_column(default=False, server_default="false")
    booking_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("booking.id", ondelete="SET NULL")
    )
    created_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL")
    )
    signed_at: Mapped[datetime | None]
    signed_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL")
    )
    # A signed note is never changed or removed; it can be struck through, with a reason.
    struck_at: Mapped[datetime | None]
    struck_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL")
    )
    strike_reason: Mapped[str | None] = mapped_column(Text)
    # A draft's delete is soft: restorable for 30 days, then the purge job removes it.
    deleted_at: Mapped[datetime | None]
    deleted_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL")
    )
    addenda: Mapped[list[NoteAddendum]] = relationship(
        lazy="selectin", order_by="NoteAddendum.created_at", passive_deletes=True
    )


class NoteVersion(UUIDPrimaryKey, Base):
    """A draft's text as it was before an edit made more than 24 hours after it was written."""

    __tablename__ = "clinical_note_version"
    __table_args__ = (UniqueConstraint("note_id", "version"),)

    note_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("clinical_note.id", ondelete="CASCADE"), index=True
    )
    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organization.id", ondelete="CASCADE")
    )
    version: Mapped[int]
    type: Mapped[NoteType] = mapped_column(str_enum(NoteType, "note_version_type"))
    content: Mapped[str] = mapped_column(Text)
    sections: Mapped[list[dict[str, Any]] | None] = mapped_column(JSONB)
    written_at: Mapped[datetime]  # when this text was last written
    replaced_at: Mapped[datetime] = mapped_column(default=utcnow)
    replaced_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL")
    )


class NoteAddendum(UUIDPrimaryKey, Base):
    """Text appended to a signed note; signed by its author when written, never changed."""

    __tablename__ = "clinical_note_addendum"

    note_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("clinical_note.id", ondelete="CASCADE"), index=True
    )
    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organization.id", ondelete="CASCADE")
    )
    content: Mapped[str] = mapped_column(Text)
    created_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Kept with the row: the author's name outlives their account (addenda are signed text).
    signed_by_name: Mapped[str] = mapped_column(String(200))
