"""Reminders before a booking: no-shows are a practice's biggest revenue leak.

BOOKING_REMINDER_HOURS (default 48 and 24) are the offsets. Every quarter of an hour a pass
finds confirmed bookings whose start has come within an offset, and claims one row per
(booking, offset, channel) with INSERT … ON CONFLICT DO NOTHING before queueing the send in the
same transaction: two passes at once, or a pass run twice, queue each reminder once. Only the
nearest offset that applies goes out (a booking made 20 hours ahead gets the 24-hour reminder,
not both). Email for patients with an address; WhatsApp for patients enrolled in monitoring.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from sqlalchemy import and_, or_, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from kura.bookings.models import Booking, BookingReminder, BookingStatus
from kura.patients.models import Patient

TOO_LATE = timedelta(hours=2)  # closer than this to the start, a reminder is noise
EMAIL, WHATSAPP = "email", "whatsapp"


def windows(hours: list[int]) -> list[tuple[int, timedelta, timedelta]]:
    """(offset, nearer bound, farther bound) of time-to-start for each offset, farthest first:
    an offset applies while the start is within it and beyond the next, nearer offset."""
    ordered = sorted(hours, reverse=True)
    bounds = [*(timedelta(hours=h) for h in ordered[1:]), TOO_LATE]
    return [(h, near, timedelta(hours=h)) for h, near in zip(ordered, bounds, strict=True)]


async def _claim(
    session: AsyncSession, booking_id: uuid.UUID, hours: int, channel: str, moment: datetime
) -> bool:
    claimed = await session.scalar(
        insert(BookingReminder)
        .values(booking_id=booking_id, hours_ahead=hours, channel=channel, queued_at=moment)
        .on_conflict_do_nothing()
        .returning(BookingReminder.booking_id)
    )
    return claimed is not None


async def queue_due_reminders(
    session: AsyncSession, moment: datetime, hours: list[int] | None = None
) -> int:
    """Claim and queue the reminders due at `moment`; how many were queued."""
    from kura.bookings.emails import BookingEvent
    from kura.bookings.tasks import queue_booking_email, queue_whatsapp_reminder

    queued = 0
    for offset, near, far in windows(hours or [48, 24]):
        rows = (
            await session.execute(
                select(Booking.id, Patient.email, Patient.monitoring_status)
                .join(Patient, Patient.id == Booking.patient_id)
                .where(
                    Booking.status == BookingStatus.CONFIRMED,
                    Booking.starts_at > moment + near,
                    Booking.starts_at <= moment + far,
                    Patient.restricted_at.is_(None),
                    or_(
                        Patient.email.is_not(None),
                        and_(
                            Patient.monitoring_status == "active",
                            Patient.monitoring_phone.is_not(None),
                        ),
                    ),
                )
                .order_by(Booking.starts_at, Booking.id)
            )
        ).all()
        for booking_id, email, monitoring in rows:
            if email and await _claim(session, booking_id, offset, EMAIL, moment):
                await queue_booking_email(session, booking_id, BookingEvent.REMINDER.value)
                queued += 1
            if monitoring == "active" and await _claim(
                session, booking_id, offset, WHATSAPP, moment
            ):
                await queue_whatsapp_reminder(session, booking_id)
                queued += 1
    await session.flush()
    return queued
