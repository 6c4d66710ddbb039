"""A patient pays a booking on Stripe Checkout, reached from the booking's manage link.

The Checkout Session is a destination charge to the practice's connected account with the
tier's platform fee. Stripe lets a session live 30 minutes at least, so starting a checkout
stretches the booking's hold past the session's end: a payment made in the last minute still
finds its slot held. `checkout.session.completed` confirms the booking (amount and currency
checked against it); `checkout.session.expired` releases the slot when nothing was paid.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kura.audit.service import AuditAction, record
from kura.bookings.models import Booking, BookingStatus, Service
from kura.config import Settings
from kura.db.base import utcnow
from kura.errors import BadRequest, Conflict
from kura.logging import get_logger
from kura.orgs.models import Organization
from kura.payments.models import Payment, PaymentKind, PaymentStatus
from kura.payments.service import stripe_failure
from kura.payments.stripe_client import application_fee, stripe_client, stripe_mode

if TYPE_CHECKING:
    import stripe

log = get_logger(__name__)
# Stripe refuses expires_at under 30 minutes from creation; the margin absorbs clock skew.
CHECKOUT_LIFETIME = timedelta(minutes=35)
HOLD_AFTER_CHECKOUT = timedelta(minutes=5)  # the expired event may come a little late
REUSE_WHEN_LEFT = timedelta(minutes=5)  # an open session this close to its end is not reused


def _refuse_unpayable(booking: Booking) -> None:
    if booking.status == BookingStatus.CANCELLED:
        raise Conflict("This booking is cancelled (an unpaid hold runs out): book again.")
    if booking.amount_cents <= 0:
        raise BadRequest("This booking is free: there is nothing to pay.")


def _destination(settings: Settings, organization: Organization) -> str | None:
    if organization.stripe_account_id and not organization.stripe_charges_enabled:
        raise Conflict(
            "This practice cannot take online payments yet. Contact the practice to pay."
        )
    if organization.stripe_account_id is None and stripe_mode(settings) == "live":
        # Money must go to the practice's own account, never stay with the platform.
        raise Conflict(
            "This practice cannot take online payments yet. Contact the practice to pay."
        )
    return organization.stripe_account_id


async def _open_session_url(
    settings: Settings, payments: list[Payment], now: datetime
) -> str | None:
    """The URL of a still-open session for this booking, when there is one worth reusing."""
    import stripe

    for payment in payments:
        if payment.status != PaymentStatus.PENDING or not payment.stripe_checkout_session_id:
            continue
        try:
            checkout = await stripe_client(settings).v1.checkout.sessions.retrieve_async(
                payment.stripe_checkout_session_id
            )
        except stripe.StripeError as exc:
            raise stripe_failure(exc) from None
        ends = datetime.fromtimestamp(int(checkout.expires_at), UTC)
        if checkout.status == "open" and checkout.url and ends - now > REUSE_WHEN_LEFT:
            return str(checkout.url)
    return None


async def start_checkout(
    session: AsyncSession,
    settings: Settings,
    booking: Booking,
    service: Service,
    organization: Organization,
    *,
    return_url: str,
    ip: str | None,
) -> str:
    """The Stripe Checkout URL for a locked, unpaid booking (an open one is reused)."""
    _refuse_unpayable(booking)
    payments = list(
        await session.scalars(
            select(Payment).where(Payment.booking_id == booking.id).order_by(Payment.created_at)
        )
    )
    if any(p.status == PaymentStatus.SUCCEEDED for p in payments):
        raise Conflict("This booking is already paid.")
    now = utcnow()
    reused = await _open_session_url(settings, payments, now)
    if reused is not None:
        return reused
    checkout = await _create_session(
        session, settings, booking, service, organization, return_url=return_url, now=now
    )
    if booking.status == BookingStatus.PENDING and booking.hold_expires_at is not None:
        ends = datetime.fromtimestamp(int(checkout.expires_at), UTC)
        booking.hold_expires_at = max(booking.hold_expires_at, ends + HOLD_AFTER_CHECKOUT)
    await session.flush()
    await record(
        session,
        AuditAction.PAYMENT_STARTED,
        organization_id=organization.id,
        actor_id=None,
        target_type="booking",
        target_id=booking.id,
        ip=ip,
        details={
            "amount_cents": booking.amount_cents,
            "currency": booking.currency,
            "via": "checkout",
        },
    )
    return str(checkout.url)


async def _create_session(
    session: AsyncSession,
    settings: Settings,
    booking: Booking,
    service: Service,
    organization: Organization,
    *,
    return_url: str,
    now: datetime,
) -> stripe.checkout.Session:
    import stripe

    destination = _destination(settings, organization)
    metadata = {"booking_id": str(booking.id), "organization_id": str(organization.id)}
    intent_data: dict[str, Any] = {"metadata": metadata}
    fee = 0
    if destination is not None:
        fee = application_fee(booking.amount_cents, organization.tier)
        intent_data |= {
            "application_fee_amount": fee,
            "transfer_data": {"destination": destination},
        }
    params: dict[str, Any] = {
        "mode": "payment",
        "line_items": [
            {
                "quantity": 1,
                "price_data": {
                    "currency": booking.currency,
                    "unit_amount": booking.amount_cents,
                    "product_data": {"name": f"{service.name} — {organization.name}"[:250]},
                },
            }
        ],
        "payment_intent_data": intent_data,
        "metadata": metadata,
        "client_reference_id": str(booking.id),
        "expires_at": int((now + CHECKOUT_LIFETIME).timestamp()),
        "success_url": f"{return_url}?checkout=success",
        "cancel_url": f"{return_url}?checkout=cancelled",
    }
    try:
        checkout = await stripe_client(settings).v1.checkout.sessions.create_async(
            params,  # type: ignore[arg-type]  # a plain dict for the SDK's TypedDict params
            {"idempotency_key": f"booking-checkout-{booking.id}-{int(now.timestamp())}"},
        )
    except stripe.StripeError as exc:
        raise stripe_failure(exc) from None
    session.add(
        Payment(
            organization_id=organization.id,
            booking_id=booking.id,
            kind=PaymentKind.BOOKING,
            amount_cents=booking.amount_cents,
            application_fee_cents=fee,
            currency=booking.currency,
            status=PaymentStatus.PENDING,
            stripe_checkout_session_id=checkout.id,
            livemode=bool(checkout.livemode),
        )
    )
    return checkout


async def _payment_for_session(session: AsyncSession, checkout: dict[str, Any]) -> Payment | None:
    return await session.scalar(
        select(Payment)
        .where(
            Payment.stripe_checkout_session_id == str(checkout["id"]),
            Payment.kind == PaymentKind.BOOKING,
        )
        .with_for_update()
    )


async def booking_checkout_completed(session: AsyncSession, checkout: dict[str, Any]) -> str:
    """A paid Checkout Session: the same path as a succeeded PaymentIntent, checked first."""
    from kura.payments.events import confirm_payment

    payment = await _payment_for_session(session, checkout)
    if payment is None:
        return "ignored: no booking checkout of ours"
    if checkout.get("payment_status") != "paid":
        # Delayed methods (bank debits) complete unpaid; payment_intent.succeeded follows.
        return "checkout completed, payment not yet received"
    if int(checkout.get("amount_total") or 0) != payment.amount_cents:
        log.warning("payments.mismatch", payment_id=str(payment.id), field="amount")
        return "not confirmed: amount differs from the booking"
    if str(checkout.get("currency") or "").lower() != payment.currency.lower():
        log.warning("payments.mismatch", payment_id=str(payment.id), field="currency")
        return "not confirmed: currency differs from the booking"
    intent_id = checkout.get("payment_intent")
    if isinstance(intent_id, str) and payment.stripe_payment_intent_id is None:
        taken = await session.scalar(
            select(Payment).where(Payment.stripe_payment_intent_id == intent_id)
        )
        if taken is not None:  # payment_intent.succeeded came first and made its own row
            return "already recorded from the payment intent"
        payment.stripe_payment_intent_id = intent_id
    return await confirm_payment(session, payment)


async def booking_checkout_expired(session: AsyncSession, checkout: dict[str, Any]) -> str:
    """Stripe closed an unpaid session: its slot is let go unless another session is open."""
    payment = await _payment_for_session(session, checkout)
    if payment is None:
        return "ignored: no booking checkout of ours"
    if payment.status != PaymentStatus.PENDING:
        return f"ignored: payment already {payment.status.value.lower()}"
    payment.status = PaymentStatus.FAILED
    booking = (
        await session.get(Booking, payment.booking_id, with_for_update=True)
        if payment.booking_id
        else None
    )
    outcome = "checkout expired"
    if booking is not None and booking.status == BookingStatus.PENDING:
        other_open = await session.scalar(
            select(Payment.id).where(
                Payment.booking_id == booking.id,
                Payment.id != payment.id,
                Payment.status.in_((PaymentStatus.PENDING, PaymentStatus.SUCCEEDED)),
                Payment.stripe_checkout_session_id.is_not(None),
            )
        )
        if other_open is None and booking.hold_expires_at is not None:
            booking.status = BookingStatus.CANCELLED
            booking.cancelled_at = utcnow()
            outcome = "checkout expired, slot released"
            await record(
                session,
                AuditAction.BOOKING_HOLD_EXPIRED,
                organization_id=booking.organization_id,
                actor_id=None,
                target_type="booking",
                target_id=booking.id,
                details={"reason": "checkout expired"},
            )
    await session.flush()
    return outcome
