"""The whole paid booking in live mode, as issue 20 says it is done: the practice onboards to
Connect, a patient books a paid session on the public endpoints, pays through Checkout
(SDK-signed live events against the local Stripe stand-in), gets the confirmation with its
calendar event and a reminder, moves the booking and cancels it by link with the refund
applied; the invoice opens and its number is the next in sequence, the refund rectifies it."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, time, timedelta
from email.message import EmailMessage
from zoneinfo import ZoneInfo

import pytest
from asgi_lifespan import LifespanManager
from httpx import ASGITransport, AsyncClient
from icalendar import Calendar
from pydantic import SecretStr
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from kura.app import create_app
from kura.bookings.reminders import queue_due_reminders
from kura.config import Settings
from kura.db.engine import Database
from kura.payments.refunds import refund_if_cancelled
from tests.email_support import newest_mail_to
from tests.factories import Member, enrol_mfa
from tests.scheduling_support import (
    PUBLIC,
    booking_body,
    online_service,
    run_booking_emails,
    set_week,
)
from tests.stripe_support import FakeStripe, deliver, stripe_event

MADRID = ZoneInfo("Europe/Madrid")


@pytest.fixture
async def live(stripe_settings: Settings, database: Database) -> AsyncIterator[AsyncClient]:
    """The app with a live-mode key (`sk_live_…`) against the local Stripe stand-in."""
    settings = stripe_settings.model_copy(
        update={"stripe_secret_key": SecretStr("sk_live_fake_0123456789")}
    )
    app = create_app(settings, database=database)
    async with (
        LifespanManager(app),
        AsyncClient(transport=ASGITransport(app), base_url="http://test") as client,
    ):
        client.app_settings = settings  # type: ignore[attr-defined]
        yield client


def _local(day: date, hour: int) -> str:
    return datetime.combine(day, time(hour), MADRID).astimezone(UTC).isoformat()


def _next_monday() -> date:
    today = date.today()
    return today + timedelta(days=7 + (7 - today.weekday()) % 7)


async def _onboard(
    live: AsyncClient, owner: Member, session: AsyncSession, settings: Settings
) -> str:
    await enrol_mfa(session, settings, owner)
    await session.commit()
    onboarding = await live.post("/api/v1/connect/onboarding", headers=owner.headers)
    assert onboarding.status_code == 200, onboarding.text
    account = next(r for r in FakeStripe.requests if r["path"] == "/v1/account_links")
    account_id = account["params"]["account"]
    updated = {
        "id": account_id,
        "object": "account",
        "charges_enabled": True,
        "payouts_enabled": True,
        "details_submitted": True,
    }
    answer = await deliver(live, stripe_event("account.updated", updated, livemode=True))
    assert answer.status_code == 200, answer.text
    status = (await live.get("/api/v1/billing/status", headers=owner.headers)).json()
    assert status["stripe_mode"] == "live" and status["charges_enabled"] is True
    return str(account_id)


async def test_a_paid_booking_from_booking_to_refund_in_live_mode(
    live: AsyncClient,
    owner: Member,
    session: AsyncSession,
    database: Database,
    stripe_settings: Settings,
) -> None:
    settings: Settings = live.app_settings  # type: ignore[attr-defined]
    account_id = await _onboard(live, owner, session, settings)
    service = await online_service(live, owner, price_cents=6000, cancellation_window_hours=24)
    assert (await set_week(live, owner, owner.user.id, [(0, "09:00", "13:00")])).status_code == 200
    monday = _next_monday()

    # 1. The patient books a paid session: held, payable.
    booked = await live.post(
        f"{PUBLIC}/{owner.organization.slug}/bookings",
        json=booking_body(str(service["id"]), _local(monday, 10), email="lucia@example.org"),
    )
    assert booked.status_code == 201 and booked.json()["status"] == "PENDING", booked.text
    token = booked.json()["manage_token"]

    # 2. Pays through Checkout: a live destination charge to the practice's account.
    checkout_url = (await live.post(f"/book/manage/{token}/pay")).headers["location"]
    (checkout,) = [s for s in FakeStripe.sessions.values() if s["url"] == checkout_url]
    sent = [r for r in FakeStripe.requests if r["path"] == "/v1/checkout/sessions"][-1]["params"]
    assert sent["payment_intent_data[transfer_data][destination]"] == account_id
    assert checkout["livemode"] is True
    paid = {**checkout, "status": "complete", "payment_status": "paid", "payment_intent": "pi_j"}
    answer = await deliver(live, stripe_event("checkout.session.completed", paid, livemode=True))
    assert answer.json()["outcome"] == "booking confirmed", answer.text

    # 3. The confirmation carries the calendar event.
    await _run_confirmations(database, settings)
    outbox = settings.kura_data_dir / "outbox" / "email"
    confirmation = newest_mail_to(outbox, "lucia@example.org")
    assert isinstance(confirmation, EmailMessage)
    (invite,) = [
        a for a in confirmation.iter_attachments() if a.get_content_type() == "text/calendar"
    ]
    event = Calendar.from_ical(invite.get_content()).walk("VEVENT")[0]
    assert event.decoded("dtstart") == datetime.fromisoformat(_local(monday, 10))
    assert str(event["status"]) == "CONFIRMED"

    # 4. A reminder goes out before it.
    start = datetime.fromisoformat(_local(monday, 10))
    assert await queue_due_reminders(session, start - timedelta(hours=30), [48, 24]) >= 1
    await session.commit()

    # 5. Moved, then cancelled by link, inside the window: the refund is applied.
    moved = await live.post(
        f"{PUBLIC}/manage/{token}/reschedule", json={"starts_at": _local(monday, 11)}
    )
    assert moved.status_code == 200, moved.text
    cancelled = await live.post(f"/book/manage/{token}/cancel")
    assert cancelled.status_code == 303
    booking_id = uuid.UUID(checkout["metadata"]["booking_id"])
    FakeStripe.intents["pi_j"] = {"id": "pi_j", "amount": 6000, "currency": "eur"}
    assert await refund_if_cancelled(database, settings, booking_id) == "refunded 6000"
    refund = [r for r in FakeStripe.requests if r["path"] == "/v1/refunds"][-1]["params"]
    assert refund["reverse_transfer"] == "true" and refund["refund_application_fee"] == "true"

    # 6. The invoice is the next in the practice's sequence and opens; the refund rectifies it.
    details = {"legal_name": "Consulta Ana SL", "tax_id": "B12345678"}
    assert (
        await live.put("/api/v1/practice/invoicing", headers=owner.headers, json=details)
    ).is_success
    invoices = (await live.get("/api/v1/invoices", headers=owner.headers)).json()["items"]
    (invoice,) = [i for i in invoices if i["rectifies_id"] is None]
    assert invoice["number"] == f"{datetime.now(UTC).year}-000001"
    pdf = await live.get(f"/api/v1/invoices/{invoice['id']}/pdf", headers=owner.headers)
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    assert [i["amount_cents"] for i in invoices if i["rectifies_id"] == invoice["id"]] == [-6000]


async def _run_confirmations(database: Database, settings: Settings) -> None:
    """The queued confirmation jobs' bodies (no worker in these tests)."""
    from kura.payments.confirmations import send_confirmations

    async with database.sessionmaker() as session:
        ids = (
            await session.scalars(
                text(
                    "SELECT args->>'booking_id' FROM procrastinate_jobs "
                    "WHERE task_name = 'payments:send_booking_confirmation' AND status = 'todo'"
                )
            )
        ).all()
    for booking_id in ids:
        await send_confirmations(database, settings, uuid.UUID(booking_id))
    await run_booking_emails(database, settings)
