"""Booking rules: in one practice, within a service's capacity, one therapist never in two
places at once (the database's exclusion constraint has the last word), times in UTC."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import Select, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from kura.auth.sessions import Authenticated
from kura.bookings.links import manage_token, manage_token_hash
from kura.bookings.models import ACTIVE_STATUSES, Booking, BookingStatus, Service
from kura.bookings.schemas import BookingCreate, BookingUpdate
from kura.briefings.content import practice_zone
from kura.config import Settings
from kura.db.base import utcnow
from kura.errors import BadRequest, Conflict, NotFound
from kura.patients.repository import get_readable as get_patient
from kura.users.models import User

ACTIVE = ACTIVE_STATUSES
EXCLUSION_VIOLATION = "23P01"
THERAPIST_BUSY = "That time was just taken: the therapist is busy then. Choose another time."


def session_times(
    service: Service, starts_at: datetime
) -> tuple[datetime, datetime, datetime | None, uuid.UUID | None]:
    """(starts_at in UTC, ends_at, blocked_until, group_key) of a booking of `service`."""
    starts_at = starts_at.astimezone(UTC)
    ends_at = starts_at + timedelta(minutes=service.duration_minutes)
    blocked_until = ends_at + timedelta(minutes=service.buffer_minutes)
    group_key = None
    if service.capacity > 1:
        # Every place of one group session shares the key, so they may overlap each other.
        group_key = uuid.uuid5(service.id, starts_at.isoformat())
    return starts_at, ends_at, blocked_until if service.buffer_minutes else None, group_key


def set_times(booking: Booking, service: Service, starts_at: datetime) -> None:
    times = session_times(service, starts_at)
    booking.starts_at, booking.ends_at, booking.blocked_until, booking.group_key = times


def give_manage_token(settings: Settings, booking: Booking) -> str:
    """The booking's manage token (its id must be set); only the hash is kept."""
    if booking.id is None:
        booking.id = uuid.uuid4()
    token = manage_token(settings, booking.id)
    booking.manage_token_hash = manage_token_hash(token)
    return token


async def flush_booking(session: AsyncSession, message: str = THERAPIST_BUSY) -> None:
    """Flush a new or moved booking; the exclusion constraint's refusal becomes a 409."""
    try:
        async with session.begin_nested():
            await session.flush()
    except IntegrityError as exc:
        if getattr(exc.orig, "sqlstate", None) == EXCLUSION_VIOLATION:
            raise Conflict(message) from None
        raise


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


async def check_capacity(
    session: AsyncSession,
    service: Service,
    starts_at: datetime,
    ends_at: datetime,
    *,
    therapist_id: uuid.UUID | None,
    ignore: uuid.UUID | None = None,
) -> None:
    """Places of one therapist's session (or of the unassigned ones). The service row is
    locked by the caller: concurrent bookings of a group session are serialised."""
    overlapping = (
        select(func.count())
        .select_from(Booking)
        .where(
            Booking.service_id == service.id,
            Booking.therapist_id.is_not_distinct_from(therapist_id),
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
    session: AsyncSession, auth: Authenticated, data: BookingCreate, *, settings: Settings
) -> Booking:
    patient = await get_patient(session, auth, data.patient_id)
    service = await get_service(session, auth, data.service_id, lock=True)
    if not service.active:
        raise BadRequest("This service is not offered any more.")
    if data.therapist_id is not None:
        await _check_therapist(session, auth, data.therapist_id)
    booking = Booking(
        id=uuid.uuid4(),
        organization_id=auth.user.organization_id,
        patient_id=patient.id,
        service_id=service.id,
        therapist_id=data.therapist_id,
        status=BookingStatus.PENDING,
        amount_cents=service.price_cents,
        currency=service.currency,
    )
    set_times(booking, service, data.starts_at)
    await check_capacity(
        session, service, booking.starts_at, booking.ends_at, therapist_id=data.therapist_id
    )
    give_manage_token(settings, booking)
    session.add(booking)
    await flush_booking(session)
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
    if "starts_at" in changes or "therapist_id" in changes or reactivating:
        # A move, a reassignment, or a cancelled booking made active again takes a place.
        service = await get_service(session, auth, booking.service_id, lock=True)
        set_times(booking, service, changes.get("starts_at", booking.starts_at))
        await check_capacity(
            session,
            service,
            booking.starts_at,
            booking.ends_at,
            therapist_id=booking.therapist_id,
            ignore=booking.id,
        )
    cancelling = (
        changes.get("status") == BookingStatus.CANCELLED
        and booking.status != BookingStatus.CANCELLED
    )
    if "status" in changes:
        booking.status = changes["status"]
        if booking.status == BookingStatus.CANCELLED:
            booking.cancelled_at = booking.cancelled_at or utcnow()
    await flush_booking(session)
    if cancelling:
        await _refund_if_in_window(session, booking)
    await session.refresh(booking)
    return booking


async def _refund_if_in_window(session: AsyncSession, booking: Booking) -> None:
    """Cancelled by the practice before the service's cancellation deadline: the patient gets
    the payment back automatically (later, the owner decides: POST /bookings/{id}/refund)."""
    from kura.payments.tasks import queue_refund_if_paid

    service = await session.get_one(Service, booking.service_id)
    deadline = booking.starts_at - timedelta(hours=service.cancellation_window_hours)
    if utcnow() <= deadline:
        await queue_refund_if_paid(session, booking.id)


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
