"""Invoices: one per succeeded booking payment, numbered per practice and year without gaps,
handed out as PDF only once the practice's legal name and tax id are set (owner only)."""

from __future__ import annotations

from httpx import AsyncClient
from sqlalchemy.ext.asyncio import AsyncSession

from kura.config import Settings
from kura.users.models import Role
from tests.factories import Member, make_owner, make_staff
from tests.stripe_support import FakeStripe, deliver, paid_booking, stripe_event


async def _pay(pay: AsyncClient, member: Member, session: AsyncSession) -> dict[str, object]:
    booking = await paid_booking(session, member)
    intent = (
        await pay.post(
            "/api/v1/payments/create-payment-intent",
            headers=member.headers,
            json={"booking_id": str(booking.id)},
        )
    ).json()["payment_intent_id"]
    event = stripe_event(
        "payment_intent.succeeded",
        {**FakeStripe.intents[intent], "status": "succeeded", "amount_received": 6000},
    )
    assert (await deliver(pay, event)).status_code == 200
    assert (await deliver(pay, event)).json()["duplicate"] is True
    return event


async def test_numbers_follow_per_practice_and_the_pdf_needs_the_legal_details(
    pay: AsyncClient, owner: Member, session: AsyncSession, settings: Settings
) -> None:
    await _pay(pay, owner, session)
    await _pay(pay, owner, session)
    other = await make_owner(session, settings)
    await _pay(pay, other, session)

    listed = (await pay.get("/api/v1/invoices", headers=owner.headers)).json()
    numbers = [i["number"] for i in listed["items"]]
    year = numbers[0][:4]
    assert numbers == [f"{year}-000002", f"{year}-000001"]
    theirs = (await pay.get("/api/v1/invoices", headers=other.headers)).json()
    assert [i["number"] for i in theirs["items"]] == [f"{year}-000001"]

    first = listed["items"][1]
    url = f"/api/v1/invoices/{first['id']}/pdf"
    therapist = await make_staff(session, settings, owner.organization, Role.THERAPIST)
    assert (await pay.get(url, headers=therapist.headers)).status_code == 403
    assert (await pay.get(url, headers=other.headers)).status_code == 404
    missing = await pay.get(url, headers=owner.headers)
    assert missing.status_code == 409 and "tax id" in missing.json()["detail"]

    bad = await pay.put(
        "/api/v1/practice/invoicing",
        headers=owner.headers,
        json={"legal_name": "Consulta Ana López", "tax_id": "no válido!"},
    )
    assert bad.status_code == 422
    details = await pay.put(
        "/api/v1/practice/invoicing",
        headers=owner.headers,
        json={"legal_name": "Consulta Ana López", "tax_id": "12345678z", "address": "Madrid"},
    )
    assert details.status_code == 200 and details.json()["tax_id"] == "12345678Z"
    assert "exenta de IVA" in details.json()["vat_note"]

    document = await pay.get(url, headers=owner.headers)
    assert document.status_code == 200
    assert document.headers["content-type"] == "application/pdf"
    assert document.content.startswith(b"%PDF")
    assert f"Factura {year}-000001".encode() in document.content  # the document's title
    assert document.headers["content-disposition"].endswith(f'factura-{year}-000001.pdf"')
    trail = (await pay.get("/api/v1/audit?action=invoice", headers=owner.headers)).json()
    assert sorted(e["action"] for e in trail["items"]) == [
        "invoice.downloaded",
        "invoice.issued",
        "invoice.issued",
    ]
