"""Bodies of the public booking pages: nothing here names a patient or another booking."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from pydantic import AwareDatetime, BaseModel, ConfigDict, EmailStr, Field, field_validator

from kura.bookings.models import BookingStatus
from kura.inputs import Input
from kura.phones import Phone
from kura.users.schemas import FullName


class PublicPractice(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    name: str
    slug: str
    timezone: str


class PublicService(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    duration_minutes: int
    price_cents: int
    currency: str
    cancellation_window_hours: int = Field(
        description="Cancel or move by link until this many hours before the start"
    )


class PublicServices(BaseModel):
    practice: PublicPractice
    services: list[PublicService]


class PublicSlot(BaseModel):
    starts_at: datetime
    ends_at: datetime
    therapist_id: uuid.UUID
    therapist_name: str


class PublicSlots(BaseModel):
    service_id: uuid.UUID
    timezone: str
    from_date: date
    to_date: date
    slots: list[PublicSlot]


class Consents(Input):
    privacy: bool = Field(description="The practice's privacy notice is accepted (required)")

    @field_validator("privacy")
    @classmethod
    def _required(cls, value: bool) -> bool:
        if not value:
            raise ValueError("the privacy notice must be accepted to book")
        return value


class PublicBookingCreate(Input):
    service_id: uuid.UUID
    starts_at: AwareDatetime = Field(description="A start from the slots list")
    therapist_id: uuid.UUID | None = Field(
        default=None, description="Default: any therapist free at that time"
    )
    full_name: FullName
    email: EmailStr = Field(max_length=320)
    phone: Phone | None = None
    consents: Consents


class PublicBookingRead(BaseModel):
    status: BookingStatus = Field(description="PENDING (unpaid, held) or CONFIRMED (free)")
    starts_at: datetime
    ends_at: datetime
    hold_expires_at: datetime | None = Field(description="An unpaid booking is released then")
    service: PublicService
    practice: PublicPractice
    changes_allowed_until: datetime = Field(description="Cancel or move by link until then")
    payment_due: bool = Field(
        default=False, description="Unpaid and payable online: POST …/manage/{token}/checkout"
    )
    manage_token: str | None = Field(
        default=None, description="Only in the answer to the booking itself (also emailed)"
    )


class RescheduleBody(Input):
    starts_at: AwareDatetime = Field(description="A start from the slots list")


class CheckoutStarted(BaseModel):
    url: str = Field(description="Stripe Checkout: send the patient's browser there")
