"""Service and booking bodies."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field

from kura.bookings.models import BookingSource, BookingStatus
from kura.inputs import Input
from kura.pagination import Page
from kura.users.schemas import FullName


def _currency(value: str) -> str:
    code = value.strip().lower()
    if len(code) != 3 or not code.isalpha():
        raise ValueError("must be a three-letter ISO currency code, e.g. eur")
    return code


Currency = Annotated[str, AfterValidator(_currency)]


BufferMinutes = Annotated[int, Field(ge=0, le=720, description="Kept free after each session")]
NoticeMinutes = Annotated[
    int, Field(ge=0, le=60 * 24 * 90, description="Online bookings at least this far ahead")
]
CancelHours = Annotated[
    int,
    Field(ge=0, le=24 * 60, description="Patients cancel or move by link until this long before"),
]


class ServiceCreate(Input):
    name: FullName
    duration_minutes: int = Field(gt=0, le=24 * 60)
    price_cents: int = Field(ge=0, le=10_000_000)
    currency: Currency = "eur"
    capacity: int = Field(default=1, ge=1, le=1000)
    buffer_minutes: BufferMinutes = 0
    min_notice_minutes: NoticeMinutes = 0
    cancellation_window_hours: CancelHours = 24
    bookable_online: bool = False


class ServiceUpdate(Input):
    name: FullName | None = None
    duration_minutes: int | None = Field(default=None, gt=0, le=24 * 60)
    price_cents: int | None = Field(default=None, ge=0, le=10_000_000)
    capacity: int | None = Field(default=None, ge=1, le=1000)
    active: bool | None = None
    buffer_minutes: BufferMinutes | None = None
    min_notice_minutes: NoticeMinutes | None = None
    cancellation_window_hours: CancelHours | None = None
    bookable_online: bool | None = None


class ServiceRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    duration_minutes: int
    price_cents: int
    currency: str
    capacity: int
    active: bool
    buffer_minutes: int
    min_notice_minutes: int
    cancellation_window_hours: int
    bookable_online: bool


class BookingCreate(Input):
    patient_id: uuid.UUID
    service_id: uuid.UUID
    therapist_id: uuid.UUID | None = None
    starts_at: AwareDatetime


class BookingUpdate(Input):
    starts_at: AwareDatetime | None = None
    status: BookingStatus | None = None
    therapist_id: uuid.UUID | None = None


class BookingRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    patient_id: uuid.UUID
    service_id: uuid.UUID
    therapist_id: uuid.UUID | None
    starts_at: datetime
    ends_at: datetime
    status: BookingStatus
    amount_cents: int
    currency: str
    source: BookingSource
    hold_expires_at: datetime | None
    cancelled_at: datetime | None


class ServicePage(Page[ServiceRead]):
    """Services, a page at a time."""


class BookingPage(Page[BookingRead]):
    """Bookings, a page at a time."""
