"""One briefing per user per local day, with a reference to its audio in blob storage."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from kura.db.base import Base, Timestamps, UUIDPrimaryKey


class DailyBriefing(UUIDPrimaryKey, Timestamps, Base):
    __tablename__ = "daily_briefing"
    __table_args__ = (UniqueConstraint("user_id", "day"),)

    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organization.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"))
    day: Mapped[date]
    language: Mapped[str] = mapped_column(String(8))
    text_script: Mapped[str] = mapped_column(Text)
    script_method: Mapped[str] = mapped_column(String(64))
    audio_blob: Mapped[str | None] = mapped_column(String(200))
    audio_method: Mapped[str | None] = mapped_column(String(64))
    audio_status: Mapped[str] = mapped_column(String(16), default="pending")  # done|failed|pending
    audio_error: Mapped[str | None] = mapped_column(String(200))
    audio_attempts: Mapped[int] = mapped_column(default=0)
    generated_at: Mapped[datetime]
