"""Stripe, through the real SDK against a local fake Stripe server; webhooks signed with the
SDK's own scheme."""

from __future__ import annotations

import time

from asgi_lifespan import LifespanManager
from httpx import ASGITransport, AsyncClient
from pydantic import SecretStr
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from kura.app import create_app
from kura.bookings.models import BookingStatus
from kura.config import Settings
from kura.db.engine import Database
from kura.orgs.models import Organization, OrgTier
from kura.payments.models import Payment, PaymentStatus, StripeEvent
from kura.users.models import Role
from tests.factories import Member, make_staff
from tests.stripe_support import FakeStripe, deliver, paid_booking, stripe_event


async def test_without_stripe_payments_answer_503_and_the_rest_works(
    client: AsyncClient, owner: Member, session: AsyncSession
) -> None:
    booking = await paid_booking(session, owner)
    response = await client.post(
        "/api/v1/payments/create-payment-intent",
        headers=owner.headers,
        json={"booking_id": str(booking.id)},
    )
    assert response.status_code == 503 and "STRIPE_SECRET_KEY" in response.json()["detail"]
    status = (await client.get("/api/v1/billing/status", headers=owner.headers)).json()
    assert status["stripe_mode"] == "not configured" and status["tier"] == "BUILDER"


async def test_pay_a_booking_then_the_webhook_confirms_it_exactly_once(
    pay: AsyncClient, owner: Member, session: AsyncSession
) -> None:
    booking = await paid_booking(session, owner)
    created = await pay.post(
        "/api/v1/payments/create-payment-intent",
        headers=owner.headers,
        json={"booking_id": str(booking.id)},
    )
    assert created.status_code == 200, created.text
    body = created.json()
    assert (
        body["amount"] == 6000
        and body["currency"] == "eur"
        and body["client_secret"].startswith("pi_test_")
    )
    sent = FakeStripe.requests[-1]
    assert sent["params"]["metadata[booking_id]"] == str(booking.id)
    assert sent["auth"] == "Bearer sk_test_fake_0123456789" and sent["idempotency"]
    again = await pay.post(
        "/api/v1/payments/create-payment-intent",
        headers=owner.headers,
        json={"booking_id": str(booking.id)},
    )
    assert (
        again.json()["payment_intent_id"] == body["payment_intent_id"]
    )  # same attempt, same intent

    intent = {
        **FakeStripe.intents[body["payment_intent_id"]],
        "status": "succeeded",
        "amount_received": 6000,
    }
    failed_late = stripe_event(
        "payment_intent.payment_failed", intent, created=int(time.time()) + 5
    )
    succeeded = stripe_event("payment_intent.succeeded", intent)
    for event in (succeeded, succeeded, failed_late, succeeded):  # redelivered and out of order
        response = await deliver(pay, event)
        assert response.status_code == 200, response.text
    await session.refresh(booking)
    assert booking.status == BookingStatus.CONFIRMED
    payment = await session.scalar(select(Payment).where(Payment.booking_id == booking.id))
    assert (
        payment is not None
        and payment.status == PaymentStatus.SUCCEEDED
        and payment.amount_cents == 6000
    )
    assert await session.scalar(select(func.count()).select_from(StripeEvent)) == 2
    paid_again = await pay.post(
        "/api/v1/payments/create-payment-intent",
        headers=owner.headers,
        json={"booking_id": str(booking.id)},
    )
    assert paid_again.status_code == 409
    trail = (await pay.get("/api/v1/audit?action=payment", headers=owner.headers)).json()
    assert [e["action"] for e in trail["items"]] == [
        "payment.succeeded",
        "payment.started",
        "payment.started",
    ]
    assert trail["items"][0]["details"]["amount_cents"] == 6000
    brief = (await pay.get("/api/v1/insights/daily-briefing", headers=owner.headers)).json()
    assert "60.00 euros" in brief["text_script"]


async def test_a_failed_payment_cancels_the_pending_booking(
    pay: AsyncClient, owner: Member, session: AsyncSession
) -> None:
    booking = await paid_booking(session, owner)
    body = (
        await pay.post(
            "/api/v1/payments/create-payment-intent",
            headers=owner.headers,
            json={"booking_id": str(booking.id)},
        )
    ).json()
    intent = {**FakeStripe.intents[body["payment_intent_id"]], "status": "requires_payment_method"}
    assert (
        await deliver(pay, stripe_event("payment_intent.payment_failed", intent))
    ).status_code == 200
    await session.refresh(booking)
    assert booking.status == BookingStatus.CANCELLED


async def test_connected_accounts_get_the_tier_fee_and_live_mode_refuses_without_one(
    pay: AsyncClient,
    owner: Member,
    session: AsyncSession,
    stripe_settings: Settings,
    database: Database,
) -> None:
    organization = await session.get_one(Organization, owner.organization.id)
    organization.stripe_account_id = "acct_practice_1"
    organization.stripe_charges_enabled = True  # onboarding finished (tests/test_connect.py)
    organization.tier = OrgTier.PRO
    await session.flush()
    booking = await paid_booking(session, owner, price=10000)
    assert (
        await pay.post(
            "/api/v1/payments/create-payment-intent",
            headers=owner.headers,
            json={"booking_id": str(booking.id)},
        )
    ).status_code == 200
    params = FakeStripe.requests[-1]["params"]
    assert params["application_fee_amount"] == "200"  # PRO: 2 %
    assert params["transfer_data[destination]"] == "acct_practice_1"

    organization.stripe_account_id = None
    await session.flush()
    live = stripe_settings.model_copy(
        update={"stripe_secret_key": SecretStr("sk_live_fake_0123456789")}
    )
    app = create_app(live, database=database)
    other = await paid_booking(session, owner)
    async with (
        LifespanManager(app),
        AsyncClient(transport=ASGITransport(app), base_url="http://test") as client,
    ):
        refused = await client.post(
            "/api/v1/payments/create-payment-intent",
            headers=owner.headers,
            json={"booking_id": str(other.id)},
        )
        assert refused.status_code == 409 and "connected" in refused.json()["detail"]
        assert (await client.get("/api/v1/billing/status", headers=owner.headers)).json()[
            "stripe_mode"
        ] == "live"


async def test_bad_webhooks_are_refused_and_change_nothing(
    pay: AsyncClient, owner: Member, session: AsyncSession
) -> None:
    event = stripe_event(
        "payment_intent.succeeded", {"id": "pi_x", "object": "payment_intent", "metadata": {}}
    )
    assert (await deliver(pay, event, secret="whsec_someone_else")).status_code == 400
    stale = int(time.time()) - 3600
    assert (await deliver(pay, event, timestamp=stale)).status_code == 400  # replayed after 300 s
    live = stripe_event(
        "payment_intent.succeeded", {"id": "pi_y", "object": "payment_intent"}, livemode=True
    )
    assert (await deliver(pay, live)).status_code == 400  # test key: live events refused
    garbage = await pay.post(
        "/api/v1/payments/webhook", content=b"{not json", headers={"Stripe-Signature": "t=1,v1=abc"}
    )
    assert garbage.status_code == 400
    unknown = await deliver(
        pay, stripe_event("invoice.created", {"id": "in_1", "object": "invoice"})
    )
    assert unknown.status_code == 200 and unknown.json()["outcome"].startswith("ignored")
    assert (
        await session.scalar(select(func.count()).select_from(StripeEvent)) == 1
    )  # only the unknown one, recorded


async def test_other_practices_bookings_and_free_bookings(
    pay: AsyncClient, owner: Member, session: AsyncSession, settings: Settings
) -> None:
    from tests.factories import make_owner

    stranger = await make_owner(session, settings)
    booking = await paid_booking(session, owner)
    foreign = await pay.post(
        "/api/v1/payments/create-payment-intent",
        headers=stranger.headers,
        json={"booking_id": str(booking.id)},
    )
    assert foreign.status_code == 404
    free = await paid_booking(session, owner, price=0)
    assert (
        await pay.post(
            "/api/v1/payments/create-payment-intent",
            headers=owner.headers,
            json={"booking_id": str(free.id)},
        )
    ).status_code == 400
    assert (
        await pay.post(
            "/api/v1/payments/create-payment-intent",
            headers=owner.headers,
            json={"booking_id": "nope"},
        )
    ).status_code == 422


async def test_subscription_checkout_and_lifecycle_move_the_tier(
    pay: AsyncClient, owner: Member, session: AsyncSession, settings: Settings
) -> None:
    therapist = await make_staff(session, settings, owner.organization, Role.THERAPIST)
    assert (
        await pay.post(
            "/api/v1/billing/checkout-session",
            headers=therapist.headers,
            json={"target_tier": "PRO"},
        )
    ).status_code == 403
    assert (
        await pay.post(
            "/api/v1/billing/checkout-session", headers=owner.headers, json={"target_tier": "GOLD"}
        )
    ).status_code == 400
    checkout = await pay.post(
        "/api/v1/billing/checkout-session", headers=owner.headers, json={"target_tier": "PRO"}
    )
    assert checkout.status_code == 200 and checkout.json()["url"].startswith(
        "https://checkout.stripe.test/"
    )
    assert FakeStripe.requests[-1]["params"]["line_items[0][price]"] == "price_pro_test"
    org_id = str(owner.organization.id)
    now = int(time.time())
    completed = stripe_event(
        "checkout.session.completed",
        {
            "id": "cs_1",
            "object": "checkout.session",
            "mode": "subscription",
            "customer": "cus_1",
            "subscription": "sub_1",
            "client_reference_id": org_id,
            "amount_total": 4900,
            "currency": "eur",
            "metadata": {"organization_id": org_id, "tier": "PRO"},
        },
        created=now,
    )
    upgraded = stripe_event(
        "customer.subscription.updated",
        {
            "id": "sub_1",
            "object": "subscription",
            "customer": "cus_1",
            "status": "active",
            "items": {"data": [{"price": {"id": "price_center_test"}}]},
        },
        created=now + 10,
    )
    older = stripe_event(
        "customer.subscription.updated",
        {
            "id": "sub_1",
            "object": "subscription",
            "customer": "cus_1",
            "status": "active",
            "items": {"data": [{"price": {"id": "price_pro_test"}}]},
        },
        created=now + 5,
    )
    for event in (completed, upgraded, older, completed):
        assert (await deliver(pay, event)).status_code == 200
    organization = await session.get_one(Organization, owner.organization.id)
    await session.refresh(organization)
    assert organization.tier == OrgTier.CENTER and organization.subscription_status == "active"
    again = await pay.post(
        "/api/v1/billing/checkout-session", headers=owner.headers, json={"target_tier": "CENTER"}
    )
    assert again.status_code == 400  # already subscribed: use the portal
    portal = await pay.post("/api/v1/billing/portal", headers=owner.headers)
    assert portal.status_code == 200 and portal.json()["url"].startswith(
        "https://billing.stripe.test/"
    )
    deleted = stripe_event(
        "customer.subscription.deleted",
        {"id": "sub_1", "object": "subscription", "customer": "cus_1", "status": "canceled"},
        created=now + 20,
    )
    assert (await deliver(pay, deleted)).status_code == 200
    await session.refresh(organization)
    tier_after: OrgTier = organization.tier  # re-read from the database
    assert tier_after == OrgTier.BUILDER and organization.subscription_status == "canceled"
    status = (await pay.get("/api/v1/billing/status", headers=owner.headers)).json()
    assert status == {
        "tier": "BUILDER",
        "subscription_status": "canceled",
        "stripe_mode": "test",
        "has_connected_account": False,
        "charges_enabled": False,
        "payouts_enabled": False,
    }


async def test_confirmation_emails_go_to_patient_and_therapist(
    owner: Member, session: AsyncSession, database: Database, settings: Settings
) -> None:
    import email
    import email.policy

    from kura.payments.confirmations import send_confirmations

    booking = await paid_booking(session, owner)
    assert await send_confirmations(database, settings, booking.id) == 2
    outbox = settings.kura_data_dir / "outbox" / "email"
    recipients = {
        email.message_from_bytes(p.read_bytes(), policy=email.policy.default)["To"]
        for p in outbox.glob("*.eml")
    }
    assert {"paciente@example.org", owner.user.email} <= recipients


async def test_a_signed_event_cannot_confirm_a_different_amount_or_a_malformed_one_500(
    pay: AsyncClient, owner: Member, session: AsyncSession
) -> None:
    booking = await paid_booking(session, owner)
    created = await pay.post(
        "/api/v1/payments/create-payment-intent",
        headers=owner.headers,
        json={"booking_id": str(booking.id)},
    )
    intent_id = created.json()["payment_intent_id"]
    cheap = {**FakeStripe.intents[intent_id], "status": "succeeded", "amount_received": 100}
    response = await deliver(pay, stripe_event("payment_intent.succeeded", cheap))
    assert response.status_code == 200 and "amount" in response.json()["outcome"]
    other_currency = {**cheap, "amount_received": 6000, "currency": "usd"}
    response = await deliver(pay, stripe_event("payment_intent.succeeded", other_currency))
    assert "currency" in response.json()["outcome"]
    await session.refresh(booking)
    assert booking.status == BookingStatus.PENDING
    malformed = stripe_event("payment_intent.succeeded", {"object": "payment_intent"})  # no id
    answer = await deliver(pay, malformed)
    assert answer.status_code == 400 and answer.json()["error"] == "bad_request"
