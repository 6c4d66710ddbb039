"""What each Stripe event does. Every handler is safe to see twice and out of order."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kura.audit.service import AuditAction, record
from kura.bookings.models import Booking, BookingStatus
from kura.config import Settings
from kura.db.base import utcnow
from kura.invoices.service import issue_for_payment
from kura.invoices.tasks import queue_invoice_email
from kura.logging import get_logger
from kura.orgs.models import Organization, OrgTier
from kura.payments.models import Payment, PaymentKind, PaymentStatus
from kura.payments.stripe_client import tier_for_price

log = get_logger(__name__)
ENDED = {"canceled", "unpaid", "incomplete_expired"}


async def audit_payment(
    session: AsyncSession, action: AuditAction, payment: Payment, outcome: str
) -> None:
    """Stripe's word, recorded with amounts and ids (the actor is Stripe: none of ours)."""
    await record(
        session,
        action,
        organization_id=payment.organization_id,
        actor_id=None,
        target_type="payment",
        target_id=payment.id,
        details={
            "booking_id": str(payment.booking_id) if payment.booking_id else None,
            "amount_cents": payment.amount_cents,
            "currency": payment.currency,
            "outcome": outcome,
        },
    )


def _uuid(value: Any) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value))
    except (TypeError, ValueError):
        return None


async def _payment_for_intent(session: AsyncSession, intent: Any) -> Payment | None:
    payment = await session.scalar(
        select(Payment).where(Payment.stripe_payment_intent_id == intent["id"]).with_for_update()
    )
    if payment is not None:
        return payment
    metadata = intent.get("metadata") or {}
    booking_id, organization_id = (
        _uuid(metadata.get("booking_id")),
        _uuid(metadata.get("organization_id")),
    )
    if booking_id is None or organization_id is None:
        return None
    booking = await session.scalar(
        select(Booking).where(Booking.id == booking_id, Booking.organization_id == organization_id)
    )
    if booking is None:
        return None
    adopted = await session.scalar(
        # A Checkout Session's own payment row, whose intent Stripe made only at payment time.
        select(Payment)
        .where(
            Payment.booking_id == booking.id,
            Payment.status == PaymentStatus.PENDING,
            Payment.stripe_checkout_session_id.is_not(None),
            Payment.stripe_payment_intent_id.is_(None),
        )
        .order_by(Payment.created_at.desc())
        .limit(1)
        .with_for_update()
    )
    if adopted is not None:
        adopted.stripe_payment_intent_id = intent["id"]
        await session.flush()
        return adopted
    payment = Payment(
        organization_id=organization_id,
        booking_id=booking.id,
        kind=PaymentKind.BOOKING,
        amount_cents=booking.amount_cents,  # what we asked for, checked against the event
        currency=booking.currency,
        status=PaymentStatus.PENDING,
        stripe_payment_intent_id=intent["id"],
        livemode=bool(intent.get("livemode")),
    )
    session.add(payment)
    await session.flush()
    return payment


async def _mismatch(session: AsyncSession, payment: Payment, intent: Any) -> str | None:
    """What differs between the stored payment and the event (None when they agree): a
    signed event still only confirms the amount, currency and account we asked for."""
    received = int(intent.get("amount_received") or intent.get("amount") or 0)
    if received != payment.amount_cents:
        return "amount"
    if str(intent.get("currency") or "").lower() != payment.currency.lower():
        return "currency"
    organization = await session.get(Organization, payment.organization_id)
    expected_account = organization.stripe_account_id if organization else None
    destination = (intent.get("transfer_data") or {}).get("destination")
    if expected_account and destination != expected_account:
        return "connected account"
    return None


async def payment_succeeded(session: AsyncSession, intent: Any) -> str:
    payment = await _payment_for_intent(session, intent)
    if payment is None:
        return "ignored: no booking of ours"
    if payment.status == PaymentStatus.SUCCEEDED:
        return "already succeeded"
    mismatch = await _mismatch(session, payment, intent)
    if mismatch is not None:
        log.warning("payments.mismatch", payment_id=str(payment.id), field=mismatch)
        return f"not confirmed: {mismatch} differs from the booking"
    return await confirm_payment(session, payment)


async def confirm_payment(session: AsyncSession, payment: Payment) -> str:
    """A checked, succeeded payment: the booking confirmed (or refunded when it was cancelled
    meanwhile), audited, invoiced. Callers have locked the payment row."""
    from kura.payments.tasks import queue_booking_confirmation, queue_refund

    if payment.status == PaymentStatus.SUCCEEDED:
        return "already succeeded"
    payment.status = PaymentStatus.SUCCEEDED
    payment.succeeded_at = utcnow()
    booking = await session.get(Booking, payment.booking_id) if payment.booking_id else None
    outcome = "payment recorded"
    if booking is not None and booking.status in (BookingStatus.PENDING, BookingStatus.CANCELLED):
        if booking.status == BookingStatus.CANCELLED:
            # The slot may be someone else's now: the money goes back, automatically.
            outcome = "paid after cancellation: refund queued"
            log.warning("payments.paid_cancelled_booking", booking_id=str(booking.id))
            await queue_refund(session, booking.id)
        else:
            booking.status = BookingStatus.CONFIRMED
            outcome = "booking confirmed"
            await session.flush()
            await queue_booking_confirmation(session, booking.id)
    await session.flush()
    await audit_payment(session, AuditAction.PAYMENT_SUCCEEDED, payment, outcome)
    invoice = await issue_for_payment(session, payment)
    if invoice is not None:
        await record(
            session,
            AuditAction.INVOICE_ISSUED,
            organization_id=payment.organization_id,
            actor_id=None,
            target_type="invoice",
            target_id=invoice.id,
            details={"number": invoice.number, "payment_id": str(payment.id)},
        )
        await queue_invoice_email(session, invoice.id)
    return outcome


async def payment_failed(session: AsyncSession, intent: Any) -> str:
    payment = await _payment_for_intent(session, intent)
    if payment is None:
        return "ignored: no booking of ours"
    if payment.status == PaymentStatus.SUCCEEDED:
        return "ignored: already succeeded (late failure event)"
    if payment.stripe_checkout_session_id is not None:
        # A declined card on Checkout: the patient may try another in the same session; its
        # end (checkout.session.expired) lets the slot go.
        return "attempt failed, checkout still open"
    payment.status = PaymentStatus.FAILED
    booking = await session.get(Booking, payment.booking_id) if payment.booking_id else None
    if booking is not None and booking.status == BookingStatus.PENDING:
        booking.status = BookingStatus.CANCELLED
    await session.flush()
    await audit_payment(session, AuditAction.PAYMENT_FAILED, payment, "booking cancelled")
    return "payment failed, booking cancelled"


def event_time(event: Any) -> datetime:
    return datetime.fromtimestamp(int(event["created"]), UTC)


async def _organization_for(session: AsyncSession, obj: Any) -> Organization | None:
    metadata = obj.get("metadata") or {}
    org_id = _uuid(metadata.get("organization_id") or obj.get("client_reference_id"))
    if org_id is not None:
        found = await session.get(Organization, org_id, with_for_update=True)
        if found is not None:
            return found
    for column, value in (
        (Organization.stripe_subscription_id, obj.get("subscription") or obj.get("id")),
        (Organization.stripe_customer_id, obj.get("customer")),
    ):
        if value:
            found = await session.scalar(
                select(Organization).where(column == str(value)).with_for_update()
            )
            if found is not None:
                return found
    return None


async def checkout_completed(session: AsyncSession, settings: Settings, event: Any) -> str:
    checkout = event["data"]["object"]
    if checkout.get("mode") != "subscription":
        return "ignored: not a subscription checkout"
    organization = await _organization_for(session, checkout)
    if organization is None:
        return "ignored: unknown practice"
    metadata = checkout.get("metadata") or {}
    organization.stripe_customer_id = checkout.get("customer") or organization.stripe_customer_id
    organization.stripe_subscription_id = checkout.get("subscription")
    when = event_time(event)
    if organization.subscription_synced_at is None or when >= organization.subscription_synced_at:
        organization.subscription_status = "active"
        organization.tier = OrgTier(metadata.get("tier", organization.tier))
        organization.subscription_synced_at = when
    if checkout.get("id") and not await session.scalar(
        select(Payment.id).where(Payment.stripe_checkout_session_id == checkout["id"])
    ):
        session.add(
            Payment(
                organization_id=organization.id,
                kind=PaymentKind.SUBSCRIPTION,
                amount_cents=int(checkout.get("amount_total") or 0),
                currency=str(checkout.get("currency") or "eur"),
                status=PaymentStatus.SUCCEEDED,
                stripe_checkout_session_id=checkout["id"],
                stripe_subscription_id=checkout.get("subscription"),
                livemode=bool(checkout.get("livemode")),
                succeeded_at=utcnow(),
            )
        )
    await session.flush()
    return f"subscription started: {organization.tier.value}"


async def subscription_changed(
    session: AsyncSession, settings: Settings, event: Any, *, deleted: bool
) -> str:
    subscription = event["data"]["object"]
    organization = await _organization_for(session, subscription)
    if organization is None:
        return "ignored: unknown practice"
    when = event_time(event)
    if (
        organization.subscription_synced_at is not None
        and when < organization.subscription_synced_at
    ):
        return "ignored: older than the state we hold"
    status = "canceled" if deleted else str(subscription.get("status") or "")
    organization.stripe_subscription_id = (
        subscription.get("id") or organization.stripe_subscription_id
    )
    organization.subscription_status = status
    organization.subscription_synced_at = when
    if deleted or status in ENDED:
        organization.tier = OrgTier.BUILDER
    else:
        items = (subscription.get("items") or {}).get("data") or []
        price = items[0].get("price", {}).get("id") if items else None
        tier = tier_for_price(settings, price)
        if tier is not None:
            organization.tier = tier
    await session.flush()
    return f"subscription {status}: {organization.tier.value}"
