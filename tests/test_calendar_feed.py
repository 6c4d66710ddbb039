"""A clinician's private calendar feed: a secret address that shows their own bookings with the
patient's initials only, replaced by a new one, revoked on request; assistants have none."""

from __future__ import annotations

from datetime import timedelta

from httpx import AsyncClient
from icalendar import Calendar
from sqlalchemy.ext.asyncio import AsyncSession

from kura.bookings.calendar_endpoints import initials
from kura.bookings.models import Booking, BookingStatus, Service
from kura.config import Settings
from kura.db.base import utcnow
from kura.users.models import Role
from tests.factories import Member, make_owner, make_patient, make_staff


async def _book(
    session: AsyncSession, owner: Member, therapist: Member, name: str, hours: int
) -> Booking:
    service = Service(
        organization_id=owner.organization.id, name="Terapia", duration_minutes=50, price_cents=0
    )
    session.add(service)
    await session.flush()
    patient = await make_patient(session, owner.organization, full_name=name)
    start = utcnow() + timedelta(hours=hours)
    booking = Booking(
        organization_id=owner.organization.id,
        patient_id=patient.id,
        service_id=service.id,
        therapist_id=therapist.user.id,
        starts_at=start,
        ends_at=start + timedelta(minutes=50),
        status=BookingStatus.CONFIRMED,
        amount_cents=0,
        currency="eur",
    )
    session.add(booking)
    await session.commit()
    return booking


def test_initials_keep_nothing_but_first_letters() -> None:
    assert initials("María José Núñez") == "M. J. N."
    assert initials("  ana   (mamá) ") == "A."


async def test_the_feed_shows_own_bookings_with_initials_and_can_be_revoked(
    client: AsyncClient, owner: Member, session: AsyncSession, settings: Settings
) -> None:
    therapist = await make_staff(session, settings, owner.organization, Role.THERAPIST)
    mine = await _book(session, owner, therapist, "Lucía Fernández", 30)
    await _book(session, owner, owner, "Otro Paciente", 40)  # the owner's, not in this feed
    other_practice = await make_owner(session, settings)
    await _book(session, other_practice, other_practice, "Ajena Persona", 30)

    created = await client.post("/api/v1/calendar-feed", headers=therapist.headers)
    assert created.status_code == 201
    path = created.json()["url"].split("://", 1)[1].split("/", 1)[1]
    feed = await client.get(f"/{path}")
    assert feed.status_code == 200 and feed.headers["content-type"].startswith("text/calendar")
    assert feed.headers["cache-control"] == "private, no-store"
    events = Calendar.from_ical(feed.content).walk("VEVENT")
    assert [str(e["summary"]) for e in events] == ["Terapia · L. F."]
    assert str(events[0]["uid"]) == f"booking-{mine.id}@kura-os"
    assert "Lucía" not in feed.text and "Fernández" not in feed.text

    replaced = await client.post("/api/v1/calendar-feed", headers=therapist.headers)
    assert (await client.get(f"/{path}")).status_code == 404  # the old address stopped
    new_path = replaced.json()["url"].split("://", 1)[1].split("/", 1)[1]
    assert (await client.get(f"/{new_path}")).status_code == 200
    assert (
        await client.delete("/api/v1/calendar-feed", headers=therapist.headers)
    ).status_code == 204
    assert (await client.get(f"/{new_path}")).status_code == 404
    assert (
        await client.delete("/api/v1/calendar-feed", headers=therapist.headers)
    ).status_code == 404
    trail = await client.get("/api/v1/audit?action=calendar_feed", headers=owner.headers)
    assert [e["action"] for e in trail.json()["items"]].count("calendar_feed.created") == 2

    assistant = await make_staff(session, settings, owner.organization, Role.ASSISTANT)
    refused = await client.post("/api/v1/calendar-feed", headers=assistant.headers)
    assert refused.status_code == 403
