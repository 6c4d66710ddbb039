"""The patient table."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import (
    ColumnElement,
    ColumnExpressionArgument,
    ForeignKey,
    Index,
    String,
    UniqueConstraint,
    column,
    func,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from kura.db.base import Base, Timestamps, UUIDPrimaryKey


def fold(value: ColumnExpressionArgument[str | None] | str) -> ColumnElement[str]:
    """kura_fold(value): lower-cased, accents removed; the search's and its indexes' form."""
    return func.kura_fold(value, type_=String)


class Patient(UUIDPrimaryKey, Timestamps, Base):
    __tablename__ = "patient"
    __table_args__ = (
        UniqueConstraint("organization_id", "phone"),
        Index("ix_patient_phone", "phone"),  # the WhatsApp webhook looks senders up by phone
        Index("ix_patient_org_name", "organization_id", "full_name"),  # the list's order
        # One active patient per phone and receiving number (routing is proof, not data entry).
        Index(
            "uq_patient_active_binding",
            "monitoring_phone",
            "monitoring_number",
            unique=True,
            postgresql_where=text("monitoring_status = 'active'"),
        ),
        # The search (`LIKE '%…%'` on each) uses these instead of reading every patient: on
        # name and email folded by kura_fold() (lower + unaccent, migration 0013), so "nunez"
        # finds "Núñez"; on the phone as stored.
        # fastupdate off: a new patient goes straight into the index, not into a pending list
        # that the planner must scan until the next vacuum (patients are added at human pace).
        *(
            Index(
                f"ix_patient_{name}_fold_trgm",
                fold(column(name)).label(f"{name}_folded"),
                postgresql_using="gin",
                postgresql_ops={f"{name}_folded": "gin_trgm_ops"},
                postgresql_with={"fastupdate": "off"},
            )
            for name in ("full_name", "email")
        ),
        Index(
            "ix_patient_phone_trgm",
            "phone",
            postgresql_using="gin",
            postgresql_ops={"phone": "gin_trgm_ops"},
            postgresql_with={"fastupdate": "off"},
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
    # Deleting a patient restricts the record (out of lists, monitoring stopped) until
    # retain_until = discharge + the practice's retention; the daily purge erases it then.
    restricted_at: Mapped[datetime | None]
    restricted_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL")
    )
    discharged_on: Mapped[date | None]
    retain_until: Mapped[date | None] = mapped_column(index=True)
