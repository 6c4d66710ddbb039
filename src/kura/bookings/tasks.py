"""Booking jobs: the emails of a booking's life, and releasing unpaid holds."""

from __future__ import annotations

import uuid

import procrastinate
from sqlalchemy.ext.asyncio import AsyncSession

from kura.jobs.defer import defer_in_transaction

blueprint = procrastinate.Blueprint()


@blueprint.task(
    name="send_booking_email",
    pass_context=True,
    queue="email",
    retry=procrastinate.RetryStrategy(max_attempts=6, exponential_wait=5),
)
async def send_booking_email(
    context: procrastinate.JobContext, booking_id: str, event: str, before: str = ""
) -> None:
    """Email the patient and the staff about a booking (created, cancelled, rescheduled)."""
    from kura.bookings.emails import BookingEvent, send_booking_emails

    extra = context.additional_context
    await send_booking_emails(
        extra["database"],
        extra["settings"],
        uuid.UUID(booking_id),
        BookingEvent(event),
        before=before,
    )


@blueprint.periodic(cron="* * * * *")
@blueprint.task(name="release_expired_holds", pass_context=True, queue="maintenance")
async def release_expired_holds(context: procrastinate.JobContext, timestamp: int) -> None:
    """Every minute: unpaid public bookings past their hold are cancelled, freeing the time."""
    from kura.bookings.holds import release_expired

    async with context.additional_context["database"].sessionmaker() as session:
        await release_expired(session)
        await session.commit()


@blueprint.periodic(cron="*/15 * * * *")
@blueprint.task(name="send_reminders", pass_context=True, queue="maintenance")
async def send_reminders(context: procrastinate.JobContext, timestamp: int) -> None:
    """Every 15 minutes: reminders of confirmed bookings (each offset and channel once)."""
    from datetime import UTC, datetime

    from kura.bookings.reminders import queue_due_reminders

    async with context.additional_context["database"].sessionmaker() as session:
        hours = context.additional_context["settings"].booking_reminder_hours
        await queue_due_reminders(session, datetime.fromtimestamp(timestamp, UTC), hours)
        await session.commit()


async def queue_booking_email(
    session: AsyncSession, booking_id: uuid.UUID, event: str, *, before: str = ""
) -> None:
    await defer_in_transaction(
        session, send_booking_email, booking_id=str(booking_id), event=event, before=before
    )


@blueprint.task(
    name="send_whatsapp_reminder",
    pass_context=True,
    queue="email",
    retry=procrastinate.RetryStrategy(max_attempts=6, exponential_wait=5),
)
async def send_whatsapp_reminder(context: procrastinate.JobContext, booking_id: str) -> None:
    """Remind an enrolled patient on WhatsApp (a template outside the 24-hour window)."""
    from kura.bookings.whatsapp_reminders import send_reminder

    extra = context.additional_context
    await send_reminder(extra["database"], extra["settings"], uuid.UUID(booking_id))


async def queue_whatsapp_reminder(session: AsyncSession, booking_id: uuid.UUID) -> None:
    await defer_in_transaction(session, send_whatsapp_reminder, booking_id=str(booking_id))
