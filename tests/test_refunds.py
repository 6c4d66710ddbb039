"""Refunds: the owner refunds a paid booking in full or in part; Stripe's `charge.refunded`
only ever raises what we hold; never more than was paid."""

from __future__ import annotations

from httpx import AsyncClient
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kura.config import Settings
from kura.payments.models import Payment
from kura.users.models import Role
from tests.factories import Member, make_staff
from tests.stripe_support import FakeStripe, deliver, paid_booking, stripe_event


async def _paid(pay: AsyncClient, owner: Member, session: AsyncSession) -> tuple[str, str]:
    booking = await paid_booking(session, owner)
    intent = (
        await pay.post(
            "/api/v1/payments/create-payment-intent",
            headers=owner.headers,
            json={"booking_id": str(booking.id)},
        )
    ).json()["payment_intent_id"]
    succeeded = {**FakeStripe.intents[intent], "status": "succeeded", "amount_received": 6000}
    assert (
        await deliver(pay, stripe_event("payment_intent.succeeded", succeeded))
    ).status_code == 200
    return str(booking.id), intent


async def test_partial_then_full_refund_and_never_more(
    pay: AsyncClient, owner: Member, session: AsyncSession, settings: Settings
) -> None:
    booking_id, intent = await _paid(pay, owner, session)
    url = f"/api/v1/bookings/{booking_id}/refund"
    therapist = await make_staff(session, settings, owner.organization, Role.THERAPIST)
    assert (await pay.post(url, headers=therapist.headers, json={})).status_code == 403
    too_much = await pay.post(url, headers=owner.headers, json={"amount_cents": 6001})
    assert too_much.status_code == 400 and "6000" in too_much.json()["detail"]

    part = await pay.post(url, headers=owner.headers, json={"amount_cents": 2000})
    assert part.status_code == 200, part.text
    assert part.json() == {
        "refunded_cents": 2000,
        "total_refunded_cents": 2000,
        "amount_cents": 6000,
        "currency": "eur",
    }
    sent = FakeStripe.requests[-1]
    assert sent["path"] == "/v1/refunds" and sent["params"]["payment_intent"] == intent
    assert sent["params"]["reason"] == "requested_by_customer" and sent["idempotency"]
    brief = (await pay.get("/api/v1/insights/daily-briefing", headers=owner.headers)).json()
    assert "40.00 euros" in brief["text_script"]  # income is net of refunds
    rest = await pay.post(url, headers=owner.headers, json={})
    assert rest.json()["refunded_cents"] == 4000
    again = await pay.post(url, headers=owner.headers, json={})
    assert again.status_code == 409 and "in full" in again.json()["detail"]

    trail = (
        await pay.get("/api/v1/audit?action=payment.refund_issued", headers=owner.headers)
    ).json()
    assert [e["details"]["amount_cents"] for e in trail["items"]] == [4000, 2000]


async def test_stripe_refunds_are_kept_and_never_lowered(
    pay: AsyncClient, owner: Member, session: AsyncSession
) -> None:
    booking_id, intent = await _paid(pay, owner, session)
    charge = {"id": "ch_1", "object": "charge", "payment_intent": intent, "amount": 6000}
    for refunded in (6000, 1500):  # a full refund in the Dashboard, then an older event
        event = stripe_event("charge.refunded", {**charge, "amount_refunded": refunded})
        assert (await deliver(pay, event)).status_code == 200
    payment = await session.scalar(
        select(Payment).where(Payment.stripe_payment_intent_id == intent)
    )
    assert payment is not None
    await session.refresh(payment)
    assert payment.refunded_cents == 6000
    refused = await pay.post(
        f"/api/v1/bookings/{booking_id}/refund", headers=owner.headers, json={}
    )
    assert refused.status_code == 409
    actions = (await pay.get("/api/v1/audit?action=payment.refunded", headers=owner.headers)).json()
    assert actions["total"] == 1


async def test_a_booking_never_paid_has_nothing_to_refund(
    pay: AsyncClient, owner: Member, session: AsyncSession
) -> None:
    booking = await paid_booking(session, owner)
    response = await pay.post(
        f"/api/v1/bookings/{booking.id}/refund", headers=owner.headers, json={}
    )
    assert response.status_code == 409
    assert "no payment" in response.json()["detail"]
