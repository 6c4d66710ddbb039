"""Patient bodies. Phones are normalised to E.164 (default region Spain)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, EmailStr, Field

from kura.inputs import Input
from kura.pagination import Page
from kura.phones import DEFAULT_REGION, Phone, normalize_phone
from kura.users.schemas import FullName

__all__ = ["DEFAULT_REGION", "Phone", "normalize_phone"]


Language = Literal["es", "en", "ca"]


class PatientCreate(Input):
    full_name: FullName
    email: EmailStr | None = Field(default=None, max_length=320)
    phone: Phone | None = None
    language: Language = "es"
    monitoring_consent: bool = False
    assigned_therapist_id: uuid.UUID | None = None


class PatientUpdate(Input):
    full_name: FullName | None = None
    email: EmailStr | None = Field(default=None, max_length=320)
    phone: Phone | None = None
    language: Language | None = None
    monitoring_consent: bool | None = None
    assigned_therapist_id: uuid.UUID | None = None


class PatientRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    organization_id: uuid.UUID
    full_name: str
    email: str | None
    phone: str | None
    language: str
    monitoring_consent: bool
    monitoring_consent_at: datetime | None
    monitoring_status: str = Field(
        description="none | pending | active | withdrawn | moved: WhatsApp monitoring routes "
        "only once the patient sent their enrollment code (active)"
    )
    monitoring_enrolled_at: datetime | None
    assigned_therapist_id: uuid.UUID | None
    created_at: datetime
    updated_at: datetime
    restricted_at: datetime | None = Field(
        None, description="Set when the patient was deleted: the record awaits erasure"
    )
    discharged_on: date | None = None
    retain_until: date | None = Field(
        None, description="The day after which the daily purge erases the record"
    )


class RestrictRequest(Input):
    discharged_on: date | None = Field(
        None,
        description="Defaults to today; not before the last note or session. Retention "
        "(the practice's record_retention_years) counts from it.",
    )


class PatientPage(Page[PatientRead]):
    """Patients, a page at a time."""
