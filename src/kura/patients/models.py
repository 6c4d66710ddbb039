"""The patient table."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from kura.db.base import Base, Timestamps, UUIDPrimaryKey


class Patient(UUIDPrimaryKey, Timestamps, Base):
    __tablename__ = "patient"
    __table_args__ = (
        UniqueConstraint("organization_id", "phone"),
        Index("ix_patient_phone", "phone"),  # the WhatsApp webhook looks senders up by phone
        Index("ix_patient_org_name", "organization_id", "full_name"),  # the list's order
        # The search (`ILIKE '%…%'` on each) uses these instead of reading every patient.
        # fastupdate off: a new patient goes straight into the index, not into a pending list
        # that the planner must scan until the next vacuum (patients are added at human pace).
        *(
            Index(
                f"ix_patient_{column}_trgm",
                column,
                postgresql_using="gin",
                postgresql_ops={column: "gin_trgm_ops"},
                postgresql_with={"fastupdate": "off"},
            )
            for column in ("full_name", "email", "phone")
        ),
    )

    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organization.id", ondelete="CASCADE"), index=True
    )
    full_name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(320))
    phone: Mapped[str | None] = mapped_column(String(20))  # E.164
    language: Mapped[str] = mapped_column(String(8), default="es")
    monitoring_consent: Mapped[bool] = mapped_column(default=False)
    monitoring_consent_at: Mapped[datetime | None]
    # Who gets this patient's risk alerts (besides the practice's owners).
    assigned_therapist_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL")
    )
    created_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL")
    )
