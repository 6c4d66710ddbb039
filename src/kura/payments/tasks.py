"""Payment jobs: booking confirmation emails, automatic refunds of cancelled bookings."""

from __future__ import annotations

import uuid

import procrastinate
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kura.jobs.defer import defer_in_transaction
from kura.payments.models import Payment, PaymentStatus

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


@blueprint.task(
    name="refund_cancelled_booking",
    pass_context=True,
    queue="payments",
    retry=procrastinate.RetryStrategy(max_attempts=8, exponential_wait=10),
)
async def refund_cancelled_booking(context: procrastinate.JobContext, booking_id: str) -> None:
    """Give back what is left of a cancelled booking's payment (retried; made once)."""
    from kura.payments.refunds import refund_if_cancelled

    extra = context.additional_context
    await refund_if_cancelled(extra["database"], extra["settings"], uuid.UUID(booking_id))


async def queue_refund(session: AsyncSession, booking_id: uuid.UUID) -> None:
    await defer_in_transaction(session, refund_cancelled_booking, booking_id=str(booking_id))


async def queue_refund_if_paid(session: AsyncSession, booking_id: uuid.UUID) -> None:
    """The refund job, for a booking with a succeeded payment not yet refunded in full."""
    paid = await session.scalar(
        select(Payment.id).where(
            Payment.booking_id == booking_id,
            Payment.status == PaymentStatus.SUCCEEDED,
            Payment.refunded_cents < Payment.amount_cents,
        )
    )
    if paid is not None:
        await queue_refund(session, booking_id)
