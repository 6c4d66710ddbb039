"""Services, bookings and therapists' availability. Times are stored in UTC; the agenda, weekly
hours and slots are read in the practice's zone."""

from __future__ import annotations

import uuid
from datetime import datetime, time
from enum import StrEnum

from sqlalchemy import CheckConstraint, ForeignKey, Index, SmallInteger, String, text
from sqlalchemy.dialects.postgresql import ExcludeConstraint
from sqlalchemy.orm import Mapped, mapped_column

from kura.db.base import Base, Timestamps, UUIDPrimaryKey, str_enum


class Service(UUIDPrimaryKey, Timestamps, Base):
    __tablename__ = "service"
    __table_args__ = (
        CheckConstraint("duration_minutes > 0", name="positive_duration"),
        CheckConstraint("price_cents >= 0", name="non_negative_price"),
        CheckConstraint("capacity > 0", name="positive_capacity"),
        CheckConstraint("buffer_minutes BETWEEN 0 AND 720", name="buffer_range"),
        CheckConstraint("min_notice_minutes >= 0", name="non_negative_notice"),
        CheckConstraint("cancellation_window_hours >= 0", name="non_negative_cancel_window"),
    )

    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organization.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(200))
    duration_minutes: Mapped[int]
    price_cents: Mapped[int]
    currency: Mapped[str] = mapped_column(String(3), default="eur")
    capacity: Mapped[int] = mapped_column(default=1)
    active: Mapped[bool] = mapped_column(default=True)
    # Booking policy. Server defaults: the previous revision inserts services without them.
    buffer_minutes: Mapped[int] = mapped_column(default=0, server_default="0")
    min_notice_minutes: Mapped[int] = mapped_column(default=0, server_default="0")
    cancellation_window_hours: Mapped[int] = mapped_column(default=24, server_default="24")
    bookable_online: Mapped[bool] = mapped_column(default=False, server_default="false")


class BookingStatus(StrEnum):
    PENDING = "PENDING"
    CONFIRMED = "CONFIRMED"
    CANCELLED = "CANCELLED"
    COMPLETED = "COMPLETED"


class BookingSource(StrEnum):
    STAFF = "staff"
    PUBLIC = "public"


# The statuses that hold a therapist's time (the exclusion constraint's predicate says the same).
ACTIVE_STATUSES = (BookingStatus.PENDING, BookingStatus.CONFIRMED, BookingStatus.COMPLETED)


class Booking(UUIDPrimaryKey, Timestamps, Base):
    __tablename__ = "booking"
    __table_args__ = (
        Index("ix_booking_org_start", "organization_id", "starts_at"),
        Index("ix_booking_service_start", "service_id", "starts_at"),
        Index("ix_booking_therapist_start", "therapist_id", "starts_at"),
        Index(
            "ix_booking_hold_expires_at",
            "hold_expires_at",
            postgresql_where=text("status = 'PENDING' AND hold_expires_at IS NOT NULL"),
        ),
        CheckConstraint("ends_at > starts_at", name="ends_after_start"),
        # No double booking of a therapist, whatever the service, however many requests race:
        # two active bookings of one therapist may not overlap (their buffer included), unless
        # they share a group key (places of one group session). Columns the previous revision
        # does not write are coalesced: its rows are checked too.
        ExcludeConstraint(
            ("therapist_id", "="),
            (text("tstzrange(starts_at, COALESCE(blocked_until, ends_at), '[)')"), "&&"),
            (text("COALESCE(group_key, id)"), "<>"),
            name="ex_booking_therapist_overlap",
            using="gist",
            where=text(
                "therapist_id IS NOT NULL AND status IN ('PENDING', 'CONFIRMED', 'COMPLETED')"
            ),
        ),
    )

    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organization.id", ondelete="CASCADE")
    )
    patient_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("patient.id", ondelete="CASCADE"), index=True
    )
    service_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("service.id", ondelete="NO ACTION"))
    therapist_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL")
    )
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    status: Mapped[BookingStatus] = mapped_column(
        str_enum(BookingStatus, "booking_status"), default=BookingStatus.PENDING
    )
    amount_cents: Mapped[int]
    currency: Mapped[str] = mapped_column(String(3))
    # The end of the service's buffer after this booking (NULL: no buffer, or an older row).
    blocked_until: Mapped[datetime | None]
    # Shared by the places of one group session (capacity > 1); NULL: the booking's own id.
    group_key: Mapped[uuid.UUID | None]
    source: Mapped[BookingSource] = mapped_column(
        str_enum(BookingSource, "booking_source"),
        default=BookingSource.STAFF,
        server_default=BookingSource.STAFF.value,
    )
    # An unpaid public booking holds its time until then (kura.bookings.tasks releases it).
    hold_expires_at: Mapped[datetime | None]
    # SHA-256 of the manage link's token; the token itself is derived with the signing key.
    manage_token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    privacy_accepted_at: Mapped[datetime | None]
    cancelled_at: Mapped[datetime | None]
    # The day-before reminder went out (claimed before sending: at most one per booking).
    reminder_sent_at: Mapped[datetime | None]  # before 0022; booking_reminder since


class BookingReminder(Base):
    """One reminder of a booking, claimed before it is sent: (booking, hours ahead, channel)
    is the key, so two runs at once cannot both send it."""

    __tablename__ = "booking_reminder"

    booking_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("booking.id", ondelete="CASCADE"), primary_key=True
    )
    hours_ahead: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(String(16), primary_key=True)  # email | whatsapp
    queued_at: Mapped[datetime]


class CalendarFeed(Base):
    """A therapist's private calendar address: only the token's SHA-256 is kept; a new one
    replaces it (the old address stops working), deleting the row revokes it."""

    __tablename__ = "calendar_feed"

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("user_account.id", ondelete="CASCADE"), primary_key=True
    )
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime]


class WeeklyHours(UUIDPrimaryKey, Timestamps, Base):
    """A therapist's recurring hours on one weekday, in the practice's local time."""

    __tablename__ = "weekly_hours"
    __table_args__ = (
        CheckConstraint("weekday BETWEEN 0 AND 6", name="weekday_range"),
        CheckConstraint("ends_at > starts_at", name="ends_after_start"),
    )

    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organization.id", ondelete="CASCADE")
    )
    therapist_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("user_account.id", ondelete="CASCADE"), index=True
    )
    weekday: Mapped[int] = mapped_column(SmallInteger)  # 0 = Monday … 6 = Sunday
    starts_at: Mapped[time]
    ends_at: Mapped[time]


class ExceptionKind(StrEnum):
    TIME_OFF = "TIME_OFF"
    OPENING = "OPENING"


class AvailabilityException(UUIDPrimaryKey, Timestamps, Base):
    """Time off (taken out of the weekly hours) or a one-off opening (added), in UTC."""

    __tablename__ = "availability_exception"
    __table_args__ = (
        CheckConstraint("ends_at > starts_at", name="ends_after_start"),
        Index("ix_availability_exception_therapist_start", "therapist_id", "starts_at"),
    )

    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organization.id", ondelete="CASCADE")
    )
    therapist_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("user_account.id", ondelete="CASCADE")
    )
    kind: Mapped[ExceptionKind] = mapped_column(str_enum(ExceptionKind, "availability_kind"))
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    note: Mapped[str | None] = mapped_column(String(200))
