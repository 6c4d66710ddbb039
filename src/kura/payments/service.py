"""Taking payments for bookings and managing the practice's subscription."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kura.auth.sessions import Authenticated
from kura.bookings.models import Booking, BookingStatus
from kura.bookings.service import get_booking
from kura.config import Settings
from kura.errors import BadRequest, Conflict, KuraError, ServiceUnavailable
from kura.logging import get_logger
from kura.orgs.models import Organization, OrgTier
from kura.payments.models import Payment, PaymentKind, PaymentStatus
from kura.payments.schemas import PaymentIntentCreated
from kura.payments.stripe_client import (
    application_fee,
    price_for_tier,
    stripe_client,
    stripe_mode,
)

if TYPE_CHECKING:
    import stripe

log = get_logger(__name__)
ACTIVE_SUBSCRIPTION = {"active", "trialing", "past_due", "incomplete"}


class StripeFailed(KuraError):
    status_code = 502
    code = "stripe_error"


def stripe_failure(exc: Exception) -> StripeFailed:
    log.warning("stripe.request_failed", error=type(exc).__name__, code=getattr(exc, "code", None))
    message = getattr(exc, "user_message", None) or "Stripe could not process the request."
    return StripeFailed(str(message))


async def create_payment_intent(
    session: AsyncSession, settings: Settings, auth: Authenticated, booking_id: uuid.UUID
) -> PaymentIntentCreated:
    import stripe

    booking = await get_booking(session, auth, booking_id)
    if booking.status == BookingStatus.CANCELLED:
        raise Conflict("This booking is cancelled.")
    payments = list(await session.scalars(select(Payment).where(Payment.booking_id == booking.id)))
    if any(p.status == PaymentStatus.SUCCEEDED for p in payments):
        raise Conflict("This booking is already paid.")
    if booking.amount_cents <= 0:
        raise BadRequest("This booking is free: there is nothing to pay.")
    client = stripe_client(settings)
    pending = next(
        (p for p in payments if p.status == PaymentStatus.PENDING and p.stripe_payment_intent_id),
        None,
    )
    try:
        if pending is not None:  # the same attempt again: the same PaymentIntent
            intent = await client.v1.payment_intents.retrieve_async(
                pending.stripe_payment_intent_id or ""
            )
        else:
            intent = await _new_intent(session, settings, auth.organization, booking, client)
    except stripe.StripeError as exc:
        raise stripe_failure(exc) from None
    return PaymentIntentCreated(
        client_secret=str(intent.client_secret),
        payment_intent_id=intent.id,
        amount=int(intent.amount),
        currency=str(intent.currency),
    )


async def _new_intent(
    session: AsyncSession,
    settings: Settings,
    organization: Organization,
    booking: Booking,
    client: stripe.StripeClient,
) -> stripe.PaymentIntent:
    params: dict[str, object] = {
        "amount": booking.amount_cents,
        "currency": booking.currency,
        "automatic_payment_methods": {"enabled": True},
        "metadata": {"booking_id": str(booking.id), "organization_id": str(organization.id)},
    }
    fee = 0
    if organization.stripe_account_id and not organization.stripe_charges_enabled:
        # Stripe refuses a destination charge to an account without its capabilities.
        raise Conflict(
            "This practice's Stripe account cannot take charges yet: finish Stripe's "
            "onboarding (POST /api/v1/connect/onboarding gives a new link)."
        )
    if organization.stripe_account_id:
        fee = application_fee(booking.amount_cents, organization.tier)
        params["application_fee_amount"] = fee
        params["transfer_data"] = {"destination": organization.stripe_account_id}
    elif stripe_mode(settings) == "live":
        raise Conflict(
            "This practice has not connected its Stripe account, so it cannot take live "
            "payments yet (money must go to the practice, not to the platform)."
        )
    intent = await client.v1.payment_intents.create_async(
        params,  # type: ignore[arg-type]  # a plain dict for the SDK's TypedDict params
        {"idempotency_key": f"booking-{booking.id}-{uuid.uuid4().hex[:8]}"},
    )
    session.add(
        Payment(
            organization_id=organization.id,
            booking_id=booking.id,
            kind=PaymentKind.BOOKING,
            amount_cents=booking.amount_cents,
            application_fee_cents=fee,
            currency=booking.currency,
            status=PaymentStatus.PENDING,
            stripe_payment_intent_id=intent.id,
            livemode=bool(intent.livemode),
        )
    )
    await session.flush()
    return intent


async def checkout_url(
    session: AsyncSession, settings: Settings, auth: Authenticated, target_tier: str
) -> str:
    import stripe

    try:
        tier = OrgTier(target_tier)
    except ValueError:
        raise BadRequest("target_tier must be PRO or CENTER.") from None
    if tier == OrgTier.BUILDER:
        raise BadRequest("target_tier must be PRO or CENTER.")
    organization = await session.get_one(Organization, auth.organization.id)
    if organization.subscription_status in ACTIVE_SUBSCRIPTION:
        raise BadRequest("You already have a subscription: change it in the billing portal.")
    price = price_for_tier(settings, tier)
    if not price:
        raise ServiceUnavailable(f"Subscriptions to {tier.value} are not configured (price id).")
    params: dict[str, object] = {
        "mode": "subscription",
        "line_items": [{"price": price, "quantity": 1}],
        "success_url": f"{settings.frontend_url}/settings/billing?checkout=success",
        "cancel_url": f"{settings.frontend_url}/settings/billing?checkout=cancelled",
        "client_reference_id": str(organization.id),
        "metadata": {"organization_id": str(organization.id), "tier": tier.value},
        "subscription_data": {"metadata": {"organization_id": str(organization.id)}},
    }
    if organization.stripe_customer_id:
        params["customer"] = organization.stripe_customer_id
    else:
        params["customer_email"] = auth.user.email
    try:
        sessions = stripe_client(settings).v1.checkout.sessions
        # A plain dict for the SDK's TypedDict params (keys built conditionally above).
        checkout = await sessions.create_async(params)  # type: ignore[arg-type]
    except stripe.StripeError as exc:
        raise stripe_failure(exc) from None
    return str(checkout.url)


async def portal_url(settings: Settings, organization: Organization) -> str:
    import stripe

    if not organization.stripe_customer_id:
        raise BadRequest("There is no subscription to manage yet.")
    try:
        portal = await stripe_client(settings).v1.billing_portal.sessions.create_async(
            {
                "customer": organization.stripe_customer_id,
                "return_url": f"{settings.frontend_url}/settings/billing",
            }
        )
    except stripe.StripeError as exc:
        raise stripe_failure(exc) from None
    return str(portal.url)
