"""/api/v1/payments and /api/v1/billing, and the verified Stripe webhook."""

from __future__ import annotations

import json
import uuid
from typing import Any

from fastapi import APIRouter, Request
from sqlalchemy import update
from sqlalchemy.dialects.postgresql import insert

from kura.audit.service import AuditAction, record
from kura.auth.dependencies import CurrentAuth, Owner
from kura.auth.stepup import OwnerStepUp
from kura.bookings.service import get_booking
from kura.config import Settings, secret_value
from kura.db.session import DbSession
from kura.errors import BadRequest, ServiceUnavailable
from kura.handlers import Responses
from kura.logging import get_logger
from kura.orgs.models import Organization
from kura.payments import booking_checkout, connect, events, refunds, service
from kura.payments.models import StripeEvent
from kura.payments.schemas import (
    BillingStatus,
    CheckoutRequest,
    OnboardingLink,
    PaymentIntentCreated,
    PaymentIntentRequest,
    RedirectUrl,
    RefundRequest,
    RefundResult,
)
from kura.payments.stripe_client import stripe_mode
from kura.request_info import client_ip

router = APIRouter(tags=["payments"])
log = get_logger(__name__)
MAX_EVENT_BYTES = 512 * 1024
STRIPE_ERRORS: Responses = {
    502: {"description": "Stripe refused or failed"},
    503: {"description": "Stripe is not configured, or the database is unavailable"},
}


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


@router.post(
    "/payments/create-payment-intent",
    response_model=PaymentIntentCreated,
    responses={
        **STRIPE_ERRORS,
        400: {"description": "The booking is free"},
        404: {"description": "No such booking in your practice"},
        409: {"description": "Cancelled, already paid, or no connected Stripe account (live)"},
    },
)
async def create_payment_intent(
    body: PaymentIntentRequest, request: Request, auth: CurrentAuth, session: DbSession
) -> PaymentIntentCreated:
    """Start (or resume) the patient's payment of a booking; the amount is the booking's."""
    created = await service.create_payment_intent(
        session, _settings(request), auth, body.booking_id
    )
    await record(
        session,
        AuditAction.PAYMENT_STARTED,
        organization_id=auth.user.organization_id,
        actor_id=auth.user.id,
        target_type="booking",
        target_id=body.booking_id,
        ip=client_ip(request),
        details={"amount_cents": created.amount, "currency": created.currency},
    )
    return created


@router.post(
    "/bookings/{booking_id}/refund",
    response_model=RefundResult,
    responses={
        **STRIPE_ERRORS,
        400: {"description": "amount_cents is not between 1 and what is left to refund"},
        403: {"description": "Not the practice owner"},
        404: {"description": "No such booking in your practice"},
        409: {"description": "Nothing paid, or already refunded in full"},
    },
)
async def refund_booking(
    booking_id: uuid.UUID,
    body: RefundRequest,
    request: Request,
    auth: Owner,
    session: DbSession,
) -> RefundResult:
    """Refund a paid booking, in full or in part (owner only)."""
    booking = await get_booking(session, auth, booking_id)
    payment = await refunds.paid_payment(session, booking)
    amount = await refunds.refund(
        session, _settings(request), payment, amount_cents=body.amount_cents, reason=body.reason
    )
    await record(
        session,
        AuditAction.REFUND_ISSUED,
        organization_id=auth.user.organization_id,
        actor_id=auth.user.id,
        target_type="payment",
        target_id=payment.id,
        ip=client_ip(request),
        details={
            "booking_id": str(booking.id),
            "amount_cents": amount,
            "currency": payment.currency,
            "reason": body.reason,
        },
    )
    return RefundResult(
        refunded_cents=amount,
        total_refunded_cents=payment.refunded_cents,
        amount_cents=payment.amount_cents,
        currency=payment.currency,
    )


@router.get("/billing/status", response_model=BillingStatus)
async def billing_status(request: Request, auth: CurrentAuth) -> BillingStatus:
    """Your practice's tier and subscription, and whether Stripe runs in live or test mode."""
    organization = auth.organization
    return BillingStatus(
        tier=organization.tier.value,
        subscription_status=organization.subscription_status,
        stripe_mode=stripe_mode(_settings(request)),
        has_connected_account=organization.stripe_account_id is not None,
        charges_enabled=organization.stripe_charges_enabled,
        payouts_enabled=organization.stripe_payouts_enabled,
    )


@router.post(
    "/connect/onboarding",
    response_model=OnboardingLink,
    responses={
        **STRIPE_ERRORS,
        403: {"description": "Not the practice owner, or no fresh two-step verification"},
    },
)
async def connect_onboarding(
    request: Request, auth: OwnerStepUp, session: DbSession
) -> OnboardingLink:
    """Connect your practice's Stripe account (owner): a link to Stripe's onboarding pages."""
    url, expires_at = await connect.onboarding_link(
        session, _settings(request), auth, ip=client_ip(request)
    )
    return OnboardingLink(url=url, expires_at=expires_at)


@router.post(
    "/billing/checkout-session",
    response_model=RedirectUrl,
    responses={
        **STRIPE_ERRORS,
        400: {"description": "Not PRO or CENTER, or already subscribed"},
    },
)
async def checkout_session(
    body: CheckoutRequest, request: Request, auth: Owner, session: DbSession
) -> RedirectUrl:
    """Subscribe to PRO or CENTER (owner only): a Stripe Checkout URL."""
    return RedirectUrl(
        url=await service.checkout_url(session, _settings(request), auth, body.target_tier)
    )


@router.post(
    "/billing/portal",
    response_model=RedirectUrl,
    responses={**STRIPE_ERRORS, 400: {"description": "There is no subscription yet"}},
)
async def billing_portal(request: Request, auth: Owner, session: DbSession) -> RedirectUrl:
    """Manage the subscription in Stripe's billing portal (owner only)."""
    organization = await session.get_one(Organization, auth.organization.id)
    return RedirectUrl(url=await service.portal_url(_settings(request), organization))


@router.post(
    "/payments/webhook",
    responses={
        200: {
            "description": "Received; each event id takes effect once (`duplicate` after that)",
            "content": {
                "application/json": {
                    "schema": {
                        "required": ["received"],
                        "properties": {
                            "received": {"type": "boolean"},
                            "duplicate": {"type": "boolean"},
                            "outcome": {"type": "string"},
                        },
                    }
                }
            },
        },
        400: {"description": "Bad signature, stale, wrong mode, malformed, or too large"},
        413: {"description": "The request body is too large"},
        503: {"description": "STRIPE_WEBHOOK_SECRET is not set, or the database is unavailable"},
    },
)
async def stripe_webhook(request: Request, session: DbSession) -> dict[str, object]:
    """Stripe events, verified on the raw body; each event id takes effect once."""
    import stripe

    settings = _settings(request)
    secret = secret_value(settings.stripe_webhook_secret)
    if secret is None:
        raise ServiceUnavailable("The Stripe webhook is not configured (STRIPE_WEBHOOK_SECRET).")
    payload = await request.body()
    if len(payload) > MAX_EVENT_BYTES:
        raise BadRequest("The event is too large.")
    try:
        event = stripe.Webhook.construct_event(
            payload, request.headers.get("stripe-signature"), secret, tolerance=300
        )
    except (ValueError, stripe.SignatureVerificationError):
        log.warning("stripe.webhook.rejected", reason="signature")
        raise BadRequest("Invalid Stripe signature or payload.") from None
    if bool(event.livemode) != (stripe_mode(settings) == "live"):
        log.warning("stripe.webhook.rejected", reason="livemode", event_id=event.id)
        raise BadRequest("The event's mode (live/test) does not match this server's Stripe key.")
    created = events.event_time(event)
    stored = await session.scalar(
        insert(StripeEvent)
        .values(
            id=event.id,
            type=event.type,
            livemode=bool(event.livemode),
            created=created,
            outcome="processing",
        )
        .on_conflict_do_nothing(index_elements=["id"])
        .returning(StripeEvent.id)
    )
    if stored is None:
        return {"received": True, "duplicate": True}
    # Handlers read the verified payload as plain JSON (Stripe objects are not dicts).
    try:
        outcome = await _dispatch(session, settings, event.type, json.loads(payload))
    except (KeyError, TypeError, ValueError, AttributeError):
        # Signed by Stripe but not shaped like the event type says: answered (and rolled
        # back) as a client error, never a 500 loop.
        log.warning("stripe.webhook.malformed", event_id=event.id, type=event.type)
        raise BadRequest("The event is signed but malformed; it was not applied.") from None
    await session.execute(
        update(StripeEvent).where(StripeEvent.id == event.id).values(outcome=outcome[:100])
    )
    log.info("stripe.webhook.processed", event_id=event.id, type=event.type, outcome=outcome)
    return {"received": True, "outcome": outcome}


async def _dispatch(
    session: DbSession, settings: Settings, kind: str, event: dict[str, Any]
) -> str:
    obj = event["data"]["object"]
    match kind:
        case "payment_intent.succeeded":
            return await events.payment_succeeded(session, obj)
        case "payment_intent.payment_failed":
            return await events.payment_failed(session, obj)
        case "checkout.session.completed" | "checkout.session.async_payment_succeeded":
            if obj.get("mode") == "payment":
                return await booking_checkout.booking_checkout_completed(session, obj)
            return await events.checkout_completed(session, settings, event)
        case "checkout.session.expired":
            return await booking_checkout.booking_checkout_expired(session, obj)
        case "customer.subscription.updated" | "customer.subscription.created":
            return await events.subscription_changed(session, settings, event, deleted=False)
        case "customer.subscription.deleted":
            return await events.subscription_changed(session, settings, event, deleted=True)
        case "account.updated":
            return await connect.account_updated(session, event)
        case "charge.refunded":
            payment, outcome = await refunds.charge_refunded(session, obj)
            if payment is not None:
                await events.audit_payment(session, AuditAction.PAYMENT_REFUNDED, payment, outcome)
            return outcome
        case _:
            return "ignored: event type not handled"
