"""The audit_event table. A database trigger refuses UPDATE, DELETE and TRUNCATE."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Identity, Index, String, func, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from kura.db.base import Base, utcnow


class AuditEvent(Base):
    __tablename__ = "audit_event"
    __table_args__ = (
        Index("ix_audit_event_org_time", "organization_id", "occurred_at"),
        Index("ix_audit_event_target", "target_id"),
        # A record's access trail (exports, the audit filter) matches details.patient_id too.
        Index("ix_audit_event_patient", "organization_id", text("(details ->> 'patient_id')")),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    occurred_at: Mapped[datetime] = mapped_column(
        default=utcnow, server_default=func.now(), index=True
    )
    # No foreign keys: the trail must outlive the rows it mentions (and a cascade would UPDATE).
    organization_id: Mapped[uuid.UUID | None]
    actor_id: Mapped[uuid.UUID | None] = mapped_column(index=True)
    action: Mapped[str] = mapped_column(String(64), index=True)
    target_type: Mapped[str | None] = mapped_column(String(32))
    target_id: Mapped[str | None] = mapped_column(String(64))
    ip: Mapped[str | None] = mapped_column(String(64))
    request_id: Mapped[str | None] = mapped_column(String(64))
    details: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict, server_default="{}")
