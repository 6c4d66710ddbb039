"""Holds: an unpaid public booking keeps its time for BOOKING_HOLD_MINUTES, then lets it go."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from kura.audit.service import AuditAction, record
from kura.bookings.models import Booking, BookingStatus
from kura.db.base import utcnow
from kura.logging import get_logger

log = get_logger(__name__)


async def release_expired(
    session: AsyncSession,
    *,
    therapist_id: uuid.UUID | None = None,
    now: datetime | None = None,
) -> list[uuid.UUID]:
    """Cancel PENDING bookings whose hold has run out (one therapist's, or all); audited.

    Safe to run twice and concurrently: the UPDATE's own WHERE decides which rows change.
    """
    now = now or utcnow()
    statement = (
        update(Booking)
        .where(
            Booking.status == BookingStatus.PENDING,
            Booking.hold_expires_at.is_not(None),
            Booking.hold_expires_at <= now,
        )
        .values(status=BookingStatus.CANCELLED, cancelled_at=now)
        .returning(Booking.id, Booking.organization_id)
        .execution_options(synchronize_session=False)
    )
    if therapist_id is not None:
        statement = statement.where(Booking.therapist_id == therapist_id)
    released = list((await session.execute(statement)).all())
    for booking_id, organization_id in released:
        await record(
            session,
            AuditAction.BOOKING_HOLD_EXPIRED,
            organization_id=organization_id,
            actor_id=None,
            target_type="booking",
            target_id=booking_id,
        )
    if released and therapist_id is None:
        log.info("bookings.holds_released", count=len(released))
    return [booking_id for booking_id, _ in released]
