"""Booking rules: in one practice, within a service's capacity, times in UTC."""

from __future__ import annotations

import uuid
from datetime import date, datetime, time, timedelta

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from kura.auth.sessions import Authenticated
from kura.bookings.models import Booking, BookingStatus, Service
from kura.bookings.schemas import BookingCreate, BookingUpdate
from kura.briefings.content import practice_zone
from kura.errors import BadRequest, Conflict, NotFound
from kura.patients.repository import get_readable as get_patient
from kura.users.models import User

ACTIVE = (BookingStatus.PENDING, BookingStatus.CONFIRMED, BookingStatus.COMPLETED)


def readable_services(auth: Authenticated) -> Select[Service]:
    return select(Service).where(Service.organization_id == auth.user.organization_id)


def readable_bookings(auth: Authenticated) -> Select[Booking]:
    return select(Booking).where(Booking.organization_id == auth.user.organization_id)


async def get_service(
    session: AsyncSession, auth: Authenticated, service_id: uuid.UUID, *, lock: bool = False
) -> Service:
    statement = readable_services(auth).where(Service.id == service_id)
    service = await session.scalar(statement.with_for_update() if lock else statement)
    if service is None:
        raise NotFound("No such service.")
    return service


async def get_booking(session: AsyncSession, auth: Authenticated, booking_id: uuid.UUID) -> Booking:
    booking = await session.scalar(readable_bookings(auth).where(Booking.id == booking_id))
    if booking is None:
        raise NotFound("No such booking.")
    return booking


async def _check_therapist(
    session: AsyncSession, auth: Authenticated, therapist_id: uuid.UUID
) -> None:
    therapist = await session.scalar(
        select(User).where(
            User.id == therapist_id,
            User.organization_id == auth.user.organization_id,
            User.is_active.is_(True),
        )
    )
    if therapist is None or not therapist.is_clinical:
        raise BadRequest("therapist_id must be an active owner or therapist of your practice.")


async def _check_capacity(
    session: AsyncSession,
    service: Service,
    starts_at: datetime,
    ends_at: datetime,
    *,
    ignore: uuid.UUID | None = None,
) -> None:
    """The service row is locked by the caller: concurrent bookings are serialised."""
    overlapping = (
        select(func.count())
        .select_from(Booking)
        .where(
            Booking.service_id == service.id,
            Booking.status.in_(ACTIVE),
            Booking.starts_at < ends_at,
            Booking.ends_at > starts_at,
        )
    )
    if ignore is not None:
        overlapping = overlapping.where(Booking.id != ignore)
    if (await session.scalar(overlapping) or 0) >= service.capacity:
        raise Conflict("That time is full for this service. Choose another time.")


async def create_booking(
    session: AsyncSession, auth: Authenticated, data: BookingCreate
) -> Booking:
    patient = await get_patient(session, auth, data.patient_id)
    service = await get_service(session, auth, data.service_id, lock=True)
    if not service.active:
        raise BadRequest("This service is not offered any more.")
    if data.therapist_id is not None:
        await _check_therapist(session, auth, data.therapist_id)
    starts_at = data.starts_at.astimezone(practice_zone("UTC"))
    ends_at = starts_at + timedelta(minutes=service.duration_minutes)
    await _check_capacity(session, service, starts_at, ends_at)
    booking = Booking(
        organization_id=auth.user.organization_id,
        patient_id=patient.id,
        service_id=service.id,
        therapist_id=data.therapist_id,
        starts_at=starts_at,
        ends_at=ends_at,
        status=BookingStatus.PENDING,
        amount_cents=service.price_cents,
        currency=service.currency,
    )
    session.add(booking)
    await session.flush()
    return booking


async def update_booking(
    session: AsyncSession, auth: Authenticated, booking: Booking, data: BookingUpdate
) -> Booking:
    changes = data.model_dump(exclude_unset=True, exclude_none=True)
    if "therapist_id" in changes:
        await _check_therapist(session, auth, changes["therapist_id"])
        booking.therapist_id = changes["therapist_id"]
    reactivating = (
        "status" in changes and changes["status"] in ACTIVE and booking.status not in ACTIVE
    )
    if "starts_at" in changes or reactivating:
        # A move, or a cancelled booking made active again, takes a place: check capacity.
        service = await get_service(session, auth, booking.service_id, lock=True)
        starts_at = changes.get("starts_at", booking.starts_at).astimezone(practice_zone("UTC"))
        ends_at = starts_at + timedelta(minutes=service.duration_minutes)
        await _check_capacity(session, service, starts_at, ends_at, ignore=booking.id)
        booking.starts_at, booking.ends_at = starts_at, ends_at
    if "status" in changes:
        booking.status = changes["status"]
    await session.flush()
    await session.refresh(booking)
    return booking


def day_bounds(day: date, timezone: str) -> tuple[datetime, datetime]:
    start = datetime.combine(day, time.min, tzinfo=practice_zone(timezone))
    return start, start + timedelta(days=1)


def agenda(auth: Authenticated, day: date) -> Select[Booking]:
    """A day's bookings in the practice's timezone, by start time (then id: stable pages)."""
    start, end = day_bounds(day, auth.organization.timezone)
    return (
        readable_bookings(auth)
        .where(Booking.starts_at >= start, Booking.starts_at < end)
        .order_by(Booking.starts_at, Booking.id)
    )
