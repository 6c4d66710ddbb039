"""A patient pays a public booking on Stripe Checkout from its manage link: the hold outlasts
the session, completed confirms (checked against the booking), expired releases, a payment
after the slot was let go is refunded by itself, and cancelling a paid booking in time refunds.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from httpx import AsyncClient
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from kura.bookings.models import Booking, BookingStatus
from kura.config import Settings
from kura.db.base import utcnow
from kura.db.engine import Database
from kura.orgs.models import Organization
from kura.payments.models import Payment, PaymentStatus
from kura.payments.refunds import refund_if_cancelled
from tests.factories import Member
from tests.scheduling_support import PUBLIC, booking_body, online_service, set_week
from tests.stripe_support import FakeStripe, deliver, stripe_event

MADRID = ZoneInfo("Europe/Madrid")


def _monday_ten() -> str:
    """10:00 in Madrid on a Monday at least a week ahead, in UTC (any day the suite runs)."""
    today = date.today()
    monday = today + timedelta(days=7 + (7 - today.weekday()) % 7)
    return datetime.combine(monday, time(10), MADRID).astimezone(UTC).isoformat()


async def _held_booking(pay: AsyncClient, owner: Member) -> tuple[str, dict[str, Any]]:
    service = await online_service(pay, owner, price_cents=6000)
    assert (await set_week(pay, owner, owner.user.id, [(0, "09:00", "13:00")])).status_code == 200
    held = await pay.post(
        f"{PUBLIC}/{owner.organization.slug}/bookings",
        json=booking_body(str(service["id"]), _monday_ten()),
    )
    assert held.status_code == 201 and held.json()["status"] == "PENDING", held.text
    assert held.json()["payment_due"] is True
    return held.json()["manage_token"], held.json()


async def _checkout(pay: AsyncClient, token: str) -> dict[str, Any]:
    started = await pay.post(f"{PUBLIC}/manage/{token}/checkout")
    assert started.status_code == 200, started.text
    (checkout_id,) = [
        i for i, s in FakeStripe.sessions.items() if s["url"] == started.json()["url"]
    ]
    return FakeStripe.sessions[checkout_id]


async def _payment(session: AsyncSession, checkout_id: str) -> Payment:
    payment = await session.scalar(
        select(Payment).where(Payment.stripe_checkout_session_id == checkout_id)
    )
    assert payment is not None
    await session.refresh(payment)
    return payment


async def test_checkout_holds_the_slot_and_completed_confirms_it(
    pay: AsyncClient, owner: Member, session: AsyncSession
) -> None:
    token, held = await _held_booking(pay, owner)
    checkout = await _checkout(pay, token)
    sent = next(r for r in FakeStripe.requests if r["path"] == "/v1/checkout/sessions")["params"]
    assert sent["mode"] == "payment" and sent["line_items[0][price_data][unit_amount]"] == "6000"
    assert sent["payment_intent_data[metadata][booking_id]"] == sent["metadata[booking_id]"]
    assert "payment_intent_data[transfer_data][destination]" not in sent  # test mode, no account
    # Stripe keeps a session open 30 minutes at least: the hold now outlasts it.
    view = (await pay.get(f"{PUBLIC}/manage/{token}")).json()
    hold = datetime.fromisoformat(view["hold_expires_at"])
    assert hold > datetime.fromtimestamp(checkout["expires_at"], UTC)
    assert hold > datetime.fromisoformat(held["hold_expires_at"])
    # Asking again while it is open gives the same session.
    again = await pay.post(f"{PUBLIC}/manage/{token}/checkout")
    assert again.json()["url"] == checkout["url"]
    assert sum(r["path"] == "/v1/checkout/sessions" for r in FakeStripe.requests) == 1

    # A signed event whose amount is not the booking's confirms nothing.
    wrong = {**checkout, "status": "complete", "payment_status": "paid", "amount_total": 100}
    answer = await deliver(pay, stripe_event("checkout.session.completed", wrong))
    assert "amount differs" in answer.json()["outcome"]
    paid = {**checkout, "status": "complete", "payment_status": "paid", "payment_intent": "pi_cs"}
    answer = await deliver(pay, stripe_event("checkout.session.completed", paid))
    assert answer.json()["outcome"] == "booking confirmed", answer.text
    view = (await pay.get(f"{PUBLIC}/manage/{token}")).json()
    assert view["status"] == "CONFIRMED" and view["payment_due"] is False
    payment = await _payment(session, checkout["id"])
    assert payment.status == PaymentStatus.SUCCEEDED and payment.stripe_payment_intent_id == "pi_cs"
    # The intent's own event afterwards finds the same payment: nothing twice.
    intent = {
        "id": "pi_cs",
        "object": "payment_intent",
        "amount": 6000,
        "amount_received": 6000,
        "currency": "eur",
        "metadata": checkout["metadata"],
    }
    answer = await deliver(pay, stripe_event("payment_intent.succeeded", intent))
    assert answer.json()["outcome"] == "already succeeded"
    assert (await pay.post(f"{PUBLIC}/manage/{token}/checkout")).status_code == 409


async def test_an_expired_checkout_releases_the_slot(
    pay: AsyncClient, owner: Member, session: AsyncSession
) -> None:
    token, _ = await _held_booking(pay, owner)
    checkout = await _checkout(pay, token)
    # A declined card while the session is open keeps the slot: the patient may try again.
    failed = {"id": "pi_declined", "amount": 6000, "currency": "eur"}
    failed["metadata"] = checkout["metadata"]
    answer = await deliver(pay, stripe_event("payment_intent.payment_failed", failed))
    assert answer.json()["outcome"] == "attempt failed, checkout still open"
    assert (await pay.get(f"{PUBLIC}/manage/{token}")).json()["status"] == "PENDING"

    expired = {**checkout, "status": "expired"}
    answer = await deliver(pay, stripe_event("checkout.session.expired", expired))
    assert answer.json()["outcome"] == "checkout expired, slot released"
    assert (await pay.get(f"{PUBLIC}/manage/{token}")).json()["status"] == "CANCELLED"
    refused = await pay.post(f"{PUBLIC}/manage/{token}/checkout")
    assert refused.status_code == 409 and "book again" in refused.json()["detail"]


async def test_paid_after_release_is_refunded_automatically(
    pay: AsyncClient,
    owner: Member,
    session: AsyncSession,
    database: Database,
    stripe_settings: Settings,
) -> None:
    token, _ = await _held_booking(pay, owner)
    checkout = await _checkout(pay, token)
    booking_id = uuid.UUID(checkout["metadata"]["booking_id"])
    await session.execute(
        text("UPDATE booking SET status = 'CANCELLED', cancelled_at = now() WHERE id = :id"),
        {"id": booking_id},
    )
    await session.commit()
    FakeStripe.intents["pi_late"] = {"id": "pi_late", "amount": 6000, "currency": "eur"}
    paid = {**checkout, "status": "complete", "payment_status": "paid", "payment_intent": "pi_late"}
    answer = await deliver(pay, stripe_event("checkout.session.completed", paid))
    assert answer.json()["outcome"] == "paid after cancellation: refund queued"
    queued = await session.scalar(
        text(
            "SELECT count(*) FROM procrastinate_jobs WHERE args->>'booking_id' = :id "
            "AND task_name = 'payments:refund_cancelled_booking'"
        ),
        {"id": str(booking_id)},
    )
    assert queued == 1
    # The job's body, twice (a retry): one refund of everything, made once.
    assert await refund_if_cancelled(database, stripe_settings, booking_id) == "refunded 6000"
    assert await refund_if_cancelled(database, stripe_settings, booking_id) == "already refunded"
    refunds = [r for r in FakeStripe.requests if r["path"] == "/v1/refunds"]
    assert len(refunds) == 1 and refunds[0]["params"]["payment_intent"] == "pi_late"


async def test_cancelling_a_paid_booking_in_time_queues_its_refund(
    pay: AsyncClient, owner: Member, session: AsyncSession
) -> None:
    token, _ = await _held_booking(pay, owner)
    checkout = await _checkout(pay, token)
    paid = {**checkout, "status": "complete", "payment_status": "paid", "payment_intent": "pi_ok"}
    assert (await deliver(pay, stripe_event("checkout.session.completed", paid))).status_code == 200
    cancelled = await pay.post(f"{PUBLIC}/manage/{token}/cancel")
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "CANCELLED"
    jobs = await session.scalar(
        text(
            "SELECT count(*) FROM procrastinate_jobs "
            "WHERE task_name = 'payments:refund_cancelled_booking' AND args->>'booking_id' = :id"
        ),
        {"id": checkout["metadata"]["booking_id"]},
    )
    assert jobs == 1


async def test_live_checkout_needs_the_practices_account_and_pays_it(
    pay: AsyncClient, owner: Member, session: AsyncSession
) -> None:
    token, _ = await _held_booking(pay, owner)
    organization = await session.get_one(Organization, owner.organization.id)
    organization.stripe_account_id = "acct_practice"
    organization.stripe_charges_enabled = False
    await session.commit()
    refused = await pay.post(f"{PUBLIC}/manage/{token}/checkout")
    assert refused.status_code == 409 and "cannot take online payments" in refused.json()["detail"]
    organization.stripe_charges_enabled = True
    await session.commit()
    await _checkout(pay, token)
    sent = [r for r in FakeStripe.requests if r["path"] == "/v1/checkout/sessions"][-1]["params"]
    assert sent["payment_intent_data[transfer_data][destination]"] == "acct_practice"
    assert sent["payment_intent_data[application_fee_amount]"] == "300"  # BUILDER: 5 %
    booking = await session.scalar(select(Booking).where(Booking.status == BookingStatus.PENDING))
    assert booking is not None and booking.hold_expires_at is not None
    assert booking.hold_expires_at > utcnow() + timedelta(minutes=30)


async def test_the_manage_page_shows_pays_and_cancels_in_the_patients_language(
    pay: AsyncClient, owner: Member, session: AsyncSession
) -> None:
    token, _ = await _held_booking(pay, owner)
    page = await pay.get(f"/book/manage/{token}")
    assert page.status_code == 200 and page.headers["cache-control"] == "no-store"
    assert "form-action 'self'" in page.headers["content-security-policy"]
    assert page.headers["referrer-policy"] == "no-referrer"
    html = page.text
    assert 'lang="es"' in html and "Pendiente de pago" in html and "60.00 EUR" in html
    assert "Paciente Web" not in html and "web1@example.org" not in html  # no patient data
    assert (await pay.get("/book/static/manage.css")).status_code == 200

    to_stripe = await pay.post(f"/book/manage/{token}/pay")
    assert to_stripe.status_code == 303
    assert to_stripe.headers["location"].startswith("https://checkout.stripe.test/")
    back = await pay.get(f"/book/manage/{token}", params={"checkout": "success"})
    assert "Pago recibido" in back.text

    cancelled = await pay.post(f"/book/manage/{token}/cancel")
    assert cancelled.status_code == 303 and cancelled.headers["location"] == f"/book/manage/{token}"
    after = await pay.get(f"/book/manage/{token}")
    assert "Cancelada" in after.text and "Pagar ahora" not in after.text
    refused = await pay.post(f"/book/manage/{token}/cancel")
    assert refused.status_code == 409 and "No se ha podido hacer" in refused.text
    assert "Esta cita ya no se puede cambiar." in refused.text  # the reason, in Spanish

    missing = await pay.get(f"/book/manage/{'x' * 43}", headers={"Accept-Language": "en-GB"})
    assert missing.status_code == 404 and "Link not valid" in missing.text
