"""Bodies of therapists' availability and of the practice's booking page."""

from __future__ import annotations

import itertools
import uuid
from datetime import datetime, time, timedelta
from typing import Annotated

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from kura.bookings.models import ExceptionKind
from kura.inputs import Input
from kura.orgs.slugs import slug_problem


def _wall_clock(value: time) -> time:
    if value.tzinfo is not None:
        raise ValueError("is a local time of the practice: give it without a zone, e.g. 09:30")
    if value.second or value.microsecond:
        raise ValueError("must be whole minutes, e.g. 09:30")
    return value


WallClock = Annotated[time, AfterValidator(_wall_clock)]


class WeeklyHoursEntry(Input):
    weekday: int = Field(ge=0, le=6, description="0 = Monday … 6 = Sunday")
    starts_at: WallClock = Field(description="Local time in the practice's zone, e.g. 09:00")
    ends_at: WallClock

    @model_validator(mode="after")
    def _ordered(self) -> WeeklyHoursEntry:
        if self.ends_at <= self.starts_at:
            raise ValueError("ends_at must be after starts_at (hours stay within one day)")
        return self


class WeeklyHoursUpdate(Input):
    hours: list[WeeklyHoursEntry] = Field(max_length=70)

    @model_validator(mode="after")
    def _no_overlaps(self) -> WeeklyHoursUpdate:
        ordered = sorted(self.hours, key=lambda h: (h.weekday, h.starts_at))
        for before, after in itertools.pairwise(ordered):
            if before.weekday == after.weekday and after.starts_at < before.ends_at:
                raise ValueError(f"hours overlap on weekday {after.weekday}")
        return self


class ExceptionCreate(Input):
    starts_at: AwareDatetime
    ends_at: AwareDatetime
    note: str | None = Field(default=None, max_length=200)

    @model_validator(mode="after")
    def _ordered(self) -> ExceptionCreate:
        if self.ends_at <= self.starts_at:
            raise ValueError("ends_at must be after starts_at")
        if self.ends_at - self.starts_at > timedelta(days=366):
            raise ValueError("a range may span at most 366 days")
        return self


class WeeklyHoursRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    weekday: int
    starts_at: time
    ends_at: time


class ExceptionRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    kind: ExceptionKind
    starts_at: datetime
    ends_at: datetime
    note: str | None


class AvailabilityRead(BaseModel):
    therapist_id: uuid.UUID
    timezone: str = Field(description="The practice's zone the weekly hours are in")
    weekly: list[WeeklyHoursRead]
    time_off: list[ExceptionRead] = Field(description="Ranges that have not ended yet")
    openings: list[ExceptionRead] = Field(description="Ranges that have not ended yet")


def _slug(value: str) -> str:
    problem = slug_problem(value)
    if problem:
        raise ValueError(problem)
    return value


class BookingPageUpdate(Input):
    slug: Annotated[str, AfterValidator(_slug)] = Field(
        description="Lowercase letters, digits and hyphens, 3 to 63 characters"
    )


class BookingPageRead(BaseModel):
    slug: str | None
    services_url: str | None = Field(description="The public list of bookable services")
