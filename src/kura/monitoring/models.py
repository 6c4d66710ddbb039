"""Messages, risk alerts and daily conversation analyses."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint, func
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from kura.db.base import Base, Timestamps, UUIDPrimaryKey, str_enum, utcnow


class Direction(StrEnum):
    INBOUND = "INBOUND"
    OUTBOUND = "OUTBOUND"


class Routing(StrEnum):
    ROUTED = "ROUTED"  # a consenting patient of one practice: stored and screened
    NO_CONSENT = "NO_CONSENT"  # a patient without monitoring consent: metadata only
    AMBIGUOUS = "AMBIGUOUS"  # the phone is a patient of several practices: metadata only


class MessageLog(UUIDPrimaryKey, Base):
    __tablename__ = "message_log"
    __table_args__ = (Index("ix_message_log_patient_time", "patient_id", "created_at"),)

    organization_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("organization.id", ondelete="CASCADE")
    )
    patient_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("patient.id", ondelete="CASCADE")
    )
    direction: Mapped[Direction] = mapped_column(str_enum(Direction, "message_direction"))
    routing: Mapped[Routing] = mapped_column(str_enum(Routing, "message_routing"))
    # Twilio's MessageSid: a redelivered webhook finds its message here.
    provider_sid: Mapped[str | None] = mapped_column(String(64), unique=True)
    in_reply_to_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("message_log.id", ondelete="CASCADE"), index=True
    )
    from_number: Mapped[str] = mapped_column(String(32))
    to_number: Mapped[str] = mapped_column(String(32))
    body: Mapped[str | None] = mapped_column(Text)
    media_content_type: Mapped[str | None] = mapped_column(String(100))
    media_url: Mapped[str | None] = mapped_column(String(500))
    # Voice notes: pending | done | failed | unavailable (no OPENAI_API_KEY).
    transcription_status: Mapped[str | None] = mapped_column(String(16))
    # Outbound messages a job sends (after a voice note): pending | sent | failed. NULL for
    # replies that travelled in the webhook's answer.
    delivery_status: Mapped[str | None] = mapped_column(String(16))
    # What the voice note said (Whisper); `body` keeps the caption typed with it.
    transcript: Mapped[str | None] = mapped_column(Text)
    screen_level: Mapped[int] = mapped_column(default=0)
    screen_risk: Mapped[str] = mapped_column(String(16), default="LOW")
    screen_flags: Mapped[list[str]] = mapped_column(JSONB, default=list, server_default="[]")
    created_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())

    @property
    def text(self) -> str:
        """Everything the patient said in this message: caption and transcript."""
        return "\n".join(part for part in (self.body, self.transcript) if part)


class RiskAlert(UUIDPrimaryKey, Base):
    """Raised for a human to look at. Never cleared automatically: only acknowledged."""

    __tablename__ = "risk_alert"
    __table_args__ = (Index("ix_risk_alert_org_time", "organization_id", "created_at"),)

    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organization.id", ondelete="CASCADE")
    )
    patient_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("patient.id", ondelete="CASCADE"), index=True
    )
    message_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("message_log.id", ondelete="SET NULL")
    )
    note_id: Mapped[uuid.UUID | None] = mapped_column(  # a screened session note
        ForeignKey("clinical_note.id", ondelete="SET NULL")
    )
    source: Mapped[str] = mapped_column(String(16))  # screen | analysis | note
    level: Mapped[int] = mapped_column(default=0)
    risk: Mapped[str] = mapped_column(String(16))
    flags: Mapped[list[str]] = mapped_column(JSONB, default=list, server_default="[]")
    created_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())
    acknowledged_at: Mapped[datetime | None]
    acknowledged_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL")
    )
    # A CRITICAL alert nobody acknowledged in ALERT_ESCALATION_MINUTES is sent again, by SMS too.
    escalated_at: Mapped[datetime | None]


class DailyConversationAnalysis(UUIDPrimaryKey, Timestamps, Base):
    __tablename__ = "daily_conversation_analysis"
    __table_args__ = (UniqueConstraint("patient_id", "day"),)

    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organization.id", ondelete="CASCADE"), index=True
    )
    patient_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("patient.id", ondelete="CASCADE"))
    day: Mapped[date]
    summary: Mapped[str] = mapped_column(Text)
    sentiment_score: Mapped[float]
    emotional_state: Mapped[str] = mapped_column(String(100))
    risk_flags: Mapped[list[str]] = mapped_column(JSONB, default=list, server_default="[]")
    suggestion: Mapped[str] = mapped_column(Text)
    message_count: Mapped[int]
    generation_method: Mapped[str] = mapped_column(String(64))
    details: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict, server_default="{}")


class MonitoringEnrollment(UUIDPrimaryKey, Base):
    """A single-use code a patient sends from their phone to start monitoring."""

    __tablename__ = "monitoring_enrollment"

    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organization.id", ondelete="CASCADE")
    )
    patient_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("patient.id", ondelete="CASCADE"), index=True
    )
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)  # sha256: no code in clear
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
    created_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())
