"""The patient table."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint, text
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
        # One active patient per phone and receiving number (routing is proof, not data entry).
        Index(
            "uq_patient_active_binding",
            "monitoring_phone",
            "monitoring_number",
            unique=True,
            postgresql_where=text("monitoring_status = 'active'"),
        ),
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
    # WhatsApp monitoring routes only through the patient's own enrollment (a code sent from
    # their phone): none | pending | active | withdrawn | moved.
    monitoring_status: Mapped[str] = mapped_column(
        String(16), default="none", server_default="none"
    )
    monitoring_phone: Mapped[str | None] = mapped_column(String(20))  # the phone that enrolled
    monitoring_number: Mapped[str | None] = mapped_column(String(20))  # the number it wrote to
    monitoring_enrolled_at: Mapped[datetime | None]
    monitoring_enrollment_sid: Mapped[str | None] = mapped_column(String(64))  # the evidence
    # Who gets this patient's risk alerts (besides the practice's owners).
    assigned_therapist_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL")
    )
    created_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL")
    )
