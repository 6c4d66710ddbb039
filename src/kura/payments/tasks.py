"""Payment jobs: booking confirmation emails."""

from __future__ import annotations

import uuid

import procrastinate
from sqlalchemy.ext.asyncio import AsyncSession

from kura.jobs.defer import defer_in_transaction

blueprint = procrastinate.Blueprint()


@blueprint.task(
    name="send_booking_confirmation",
    pass_context=True,
    queue="email",
    retry=procrastinate.RetryStrategy(max_attempts=6, exponential_wait=5),
)
async def send_booking_confirmation(context: procrastinate.JobContext, booking_id: str) -> None:
    """Email the patient and the therapist that a paid booking is confirmed."""
    from kura.payments.confirmations import send_confirmations

    extra = context.additional_context
    await send_confirmations(extra["database"], extra["settings"], uuid.UUID(booking_id))


async def queue_booking_confirmation(session: AsyncSession, booking_id: uuid.UUID) -> None:
    await defer_in_transaction(session, send_booking_confirmation, booking_id=str(booking_id))
