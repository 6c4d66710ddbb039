"""Refunds of booking payments: full or partial, through Stripe, never more than was paid.

For a destination charge (the practice's connected account) the transfer is reversed and the
platform's fee refunded in proportion, so the money comes back from where it went.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kura.audit.service import AuditAction, record
from kura.bookings.models import Booking, BookingStatus
from kura.config import Settings
from kura.db.engine import Database
from kura.errors import BadRequest, Conflict
from kura.invoices.service import rectify_for_refunds
from kura.invoices.tasks import queue_invoice_email
from kura.logging import get_logger
from kura.payments.models import Payment, PaymentKind, PaymentStatus
from kura.payments.service import stripe_failure
from kura.payments.stripe_client import stripe_client

log = get_logger(__name__)
REASONS = ("requested_by_customer", "duplicate", "fraudulent")  # Stripe's own


async def paid_payment(session: AsyncSession, booking: Booking) -> Payment:
    payment = await session.scalar(
        select(Payment)
        .where(
            Payment.booking_id == booking.id,
            Payment.kind == PaymentKind.BOOKING,
            Payment.status == PaymentStatus.SUCCEEDED,
        )
        .with_for_update()
    )
    if payment is None or payment.stripe_payment_intent_id is None:
        raise Conflict("This booking has no payment to refund.")
    return payment


async def refund(
    session: AsyncSession,
    settings: Settings,
    payment: Payment,
    *,
    amount_cents: int | None,
    reason: str,
) -> int:
    """Refund `amount_cents` (all that is left when None); returns the amount refunded."""
    import stripe

    left = payment.amount_cents - payment.refunded_cents
    if left <= 0:
        raise Conflict("This payment has already been refunded in full.")
    amount = left if amount_cents is None else amount_cents
    if not 0 < amount <= left:
        raise BadRequest(f"amount_cents must be between 1 and {left} (what is left to refund).")
    params: dict[str, Any] = {
        "payment_intent": payment.stripe_payment_intent_id,
        "amount": amount,
        "reason": reason,
        "metadata": {"payment_id": str(payment.id)},
    }
    if payment.application_fee_cents:
        params |= {"reverse_transfer": True, "refund_application_fee": True}
    try:
        await stripe_client(settings).v1.refunds.create_async(
            params,  # type: ignore[arg-type]  # a plain dict for the SDK's TypedDict params
            # The same refund asked twice (a retried request) is made once.
            {"idempotency_key": f"refund-{payment.id}-{payment.refunded_cents}-{amount}"},
        )
    except stripe.StripeError as exc:
        raise stripe_failure(exc) from None
    payment.refunded_cents += amount
    await session.flush()
    await rectify(session, payment)
    return amount


async def rectify(session: AsyncSession, payment: Payment) -> None:
    """The rectifying invoice of what was just refunded (when the payment had an invoice)."""
    rectifying = await rectify_for_refunds(session, payment)
    if rectifying is not None:
        await record(
            session,
            AuditAction.INVOICE_ISSUED,
            organization_id=payment.organization_id,
            actor_id=None,
            target_type="invoice",
            target_id=rectifying.id,
            details={"number": rectifying.number, "payment_id": str(payment.id)},
        )
        await queue_invoice_email(session, rectifying.id)


async def charge_refunded(
    session: AsyncSession, charge: dict[str, Any]
) -> tuple[Payment | None, str]:
    """Stripe's running total of what was refunded on the charge: it only raises ours. The
    payment comes back only when this event changed it."""
    payment = await session.scalar(
        select(Payment)
        .where(Payment.stripe_payment_intent_id == str(charge["payment_intent"]))
        .with_for_update()
    )
    if payment is None:
        return None, "ignored: no payment of ours"
    total = min(int(charge["amount_refunded"]), payment.amount_cents)
    if total <= payment.refunded_cents:
        return None, "refund already recorded"
    payment.refunded_cents = total
    await session.flush()
    await rectify(session, payment)
    return payment, f"refunded {total} of {payment.amount_cents}"


async def refund_if_cancelled(database: Database, settings: Settings, booking_id: uuid.UUID) -> str:
    """The automatic refund of a cancelled booking (the refund job): what is left of its
    payment goes back, once; nothing when it was re-confirmed or never paid meanwhile."""
    async with database.sessionmaker() as session, session.begin():
        booking = await session.get(Booking, booking_id, with_for_update=True)
        if booking is None or booking.status != BookingStatus.CANCELLED:
            return "not cancelled: nothing refunded"
        try:
            payment = await paid_payment(session, booking)
        except Conflict:
            return "nothing paid"
        if payment.refunded_cents >= payment.amount_cents:
            return "already refunded"
        amount = await refund(
            session, settings, payment, amount_cents=None, reason="requested_by_customer"
        )
        await record(
            session,
            AuditAction.REFUND_ISSUED,
            organization_id=booking.organization_id,
            actor_id=None,
            target_type="payment",
            target_id=payment.id,
            details={
                "booking_id": str(booking.id),
                "amount_cents": amount,
                "currency": payment.currency,
                "reason": "booking cancelled",
                "automatic": True,
            },
        )
        log.info("payments.auto_refund", booking_id=str(booking.id), amount_cents=amount)
        return f"refunded {amount}"
