"""The day-before reminder: no-shows are a practice's biggest revenue leak.

Every quarter of an hour, confirmed bookings starting in the next REMIND_AHEAD that have not been
reminded are claimed (reminder_sent_at set, rows locked and skipped by a concurrent run) and
their email queued in the same transaction — at most one reminder per booking.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kura.bookings.models import Booking, BookingStatus
from kura.patients.models import Patient

REMIND_AHEAD = timedelta(hours=24)
TOO_LATE = timedelta(hours=2)  # closer than this to the start, a reminder is noise


async def queue_due_reminders(session: AsyncSession, moment: datetime) -> int:
    from kura.bookings.emails import BookingEvent
    from kura.bookings.tasks import queue_booking_email

    due = list(
        await session.scalars(
            select(Booking)
            .join(Patient, Patient.id == Booking.patient_id)
            .where(
                Booking.status == BookingStatus.CONFIRMED,
                Booking.reminder_sent_at.is_(None),
                Booking.starts_at > moment + TOO_LATE,
                Booking.starts_at <= moment + REMIND_AHEAD,
                Patient.email.is_not(None),
                Patient.restricted_at.is_(None),
            )
            .with_for_update(of=Booking, skip_locked=True)
        )
    )
    for booking in due:
        booking.reminder_sent_at = moment
        await queue_booking_email(session, booking.id, BookingEvent.REMINDER.value)
    await session.flush()
    return len(due)
