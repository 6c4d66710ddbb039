"""Refunds: the owner refunds a paid booking in full or in part; Stripe's `charge.refunded`
only ever raises what we hold; never more than was paid."""

from __future__ import annotations

import email
import email.policy
import uuid

from httpx import AsyncClient
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from kura.config import Settings
from kura.db.engine import Database
from kura.invoices.delivery import send_invoice
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


async def test_each_refund_gets_a_rectifying_invoice_of_its_own_series(
    pay: AsyncClient, owner: Member, session: AsyncSession
) -> None:
    booking_id, intent = await _paid(pay, owner, session)
    url = f"/api/v1/bookings/{booking_id}/refund"
    assert (await pay.post(url, headers=owner.headers, json={"amount_cents": 2000})).is_success
    # Stripe's own event for that refund changes nothing more.
    charge = {"id": "ch_r", "object": "charge", "payment_intent": intent, "amount": 6000}
    event = stripe_event("charge.refunded", {**charge, "amount_refunded": 2000})
    assert (await deliver(pay, event)).status_code == 200
    # The rest refunded in the Dashboard: the event brings the second rectification.
    event = stripe_event("charge.refunded", {**charge, "amount_refunded": 6000})
    assert (await deliver(pay, event)).status_code == 200

    invoices = (await pay.get("/api/v1/invoices", headers=owner.headers)).json()["items"]
    (original,) = [i for i in invoices if i["rectifies_id"] is None]
    rectifying = sorted(
        (i for i in invoices if i["rectifies_id"] == original["id"]), key=lambda i: i["number"]
    )
    year = original["number"][:4]
    assert [i["number"] for i in rectifying] == [f"R{year}-000001", f"R{year}-000002"]
    assert [i["amount_cents"] for i in rectifying] == [-2000, -4000]
    assert original["amount_cents"] == 6000 and original["number"] == f"{year}-000001"
    assert original["number"] in rectifying[0]["description"]


async def test_invoices_are_emailed_as_pdf_once_the_seller_is_complete(
    pay: AsyncClient, owner: Member, session: AsyncSession, database: Database, settings: Settings
) -> None:
    booking_id, _ = await _paid(pay, owner, session)
    url = f"/api/v1/bookings/{booking_id}/refund"
    assert (await pay.post(url, headers=owner.headers, json={"amount_cents": 1000})).is_success
    queued = (
        await session.scalars(
            text(
                "SELECT args->>'invoice_id' FROM procrastinate_jobs "
                "WHERE task_name = 'invoices:email_invoice' ORDER BY id"
            )
        )
    ).all()
    assert len(queued) == 2  # the invoice, then its rectifying invoice
    # Without the practice's legal name and tax id an invoice cannot go out.
    assert await send_invoice(database, settings, uuid.UUID(queued[0])) == (
        "skipped: seller details missing"
    )
    details = {"legal_name": "Consulta Ana SL", "tax_id": "B12345678", "address": "Calle Mayor 1"}
    assert (
        await pay.put("/api/v1/practice/invoicing", headers=owner.headers, json=details)
    ).is_success
    outbox = settings.kura_data_dir / "outbox" / "email"
    before = set(outbox.glob("*.eml")) if outbox.exists() else set()
    for invoice_id in queued:
        assert await send_invoice(database, settings, uuid.UUID(invoice_id)) == "sent"
    sent = [
        email.message_from_bytes(p.read_bytes(), policy=email.policy.default)
        for p in sorted(set(outbox.glob("*.eml")) - before)
    ]
    assert [m["To"] for m in sent] == ["paciente@example.org"] * 2
    subjects = sorted(str(m["Subject"]) for m in sent)
    assert subjects[0].startswith("Factura rectificativa R") and subjects[1].startswith(
        "Tu factura"
    )
    for message in sent:
        (attachment,) = list(message.iter_attachments())
        assert attachment.get_content_type() == "application/pdf"
        assert attachment.get_content().startswith(b"%PDF")
