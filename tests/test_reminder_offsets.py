"""Reminders at 48 and 24 hours, by email and, for enrolled patients, WhatsApp: only the nearest
offset that applies, each (booking, offset, channel) once; WhatsApp as free text within 24 hours
of the patient's last message, as a template outside it, and not at all without a template."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from kura.bookings.models import Booking, BookingStatus, Service
from kura.bookings.reminders import queue_due_reminders, windows
from kura.bookings.whatsapp_reminders import send_reminder
from kura.config import Settings
from kura.db.base import utcnow
from kura.db.engine import Database
from kura.monitoring.models import Direction, MessageLog, Routing
from kura.patients.models import Patient
from tests.factories import Member, make_patient

TEMPLATE = "HX" + "0" * 32


async def _booking(
    session: AsyncSession, owner: Member, patient: Patient, ahead: timedelta
) -> Booking:
    service = Service(
        organization_id=owner.organization.id, name="Sesión", duration_minutes=50, price_cents=0
    )
    session.add(service)
    await session.flush()
    start = utcnow() + ahead
    booking = Booking(
        organization_id=owner.organization.id,
        patient_id=patient.id,
        service_id=service.id,
        starts_at=start,
        ends_at=start + timedelta(minutes=50),
        status=BookingStatus.CONFIRMED,
        amount_cents=0,
        currency="eur",
    )
    session.add(booking)
    await session.flush()
    return booking


async def _claims(session: AsyncSession, booking: Booking) -> list[tuple[int, str]]:
    rows = await session.execute(
        text(
            "SELECT hours_ahead, channel FROM booking_reminder WHERE booking_id = :id "
            "ORDER BY hours_ahead DESC, channel"
        ),
        {"id": booking.id},
    )
    return [(int(h), str(c)) for h, c in rows.all()]


def test_each_offset_owns_the_time_down_to_the_next() -> None:
    assert windows([24, 48]) == [
        (48, timedelta(hours=24), timedelta(hours=48)),
        (24, timedelta(hours=2), timedelta(hours=24)),
    ]


async def test_48_then_24_hours_by_email_and_whatsapp_each_once(
    owner: Member, session: AsyncSession
) -> None:
    enrolled = await make_patient(
        session, owner.organization, email="ana@example.org", monitoring_consent=True
    )
    booking = await _booking(session, owner, enrolled, timedelta(hours=30))
    late = await make_patient(session, owner.organization, email="late@example.org")
    booked_late = await _booking(session, owner, late, timedelta(hours=20))
    now = utcnow()
    assert await queue_due_reminders(session, now, [48, 24]) == 3
    assert await _claims(session, booking) == [(48, "email"), (48, "whatsapp")]
    assert await _claims(session, booked_late) == [(24, "email")]  # not the 48 as well
    assert await queue_due_reminders(session, now, [48, 24]) == 0
    assert await queue_due_reminders(session, now + timedelta(hours=7), [48, 24]) == 2
    assert await _claims(session, booking) == [
        (48, "email"),
        (48, "whatsapp"),
        (24, "email"),
        (24, "whatsapp"),
    ]
    jobs = await session.scalar(
        text(
            "SELECT count(*) FROM procrastinate_jobs "
            "WHERE task_name = 'bookings:send_whatsapp_reminder' AND args->>'booking_id' = :id"
        ),
        {"id": str(booking.id)},
    )
    assert jobs == 2


def _sent(settings: Settings) -> list[dict[str, object]]:
    folder = Path(settings.kura_data_dir) / "outbox" / "messages"
    return [json.loads(p.read_text()) for p in sorted(folder.glob("*.json"))]


async def test_whatsapp_text_inside_the_window_template_outside_none_without(
    owner: Member, session: AsyncSession, database: Database, settings: Settings
) -> None:
    patient = await make_patient(session, owner.organization, monitoring_consent=True)
    booking = await _booking(session, owner, patient, timedelta(hours=24))
    await session.commit()
    before = len(_sent(settings))
    # Never heard from in the last 24 hours, no template: nothing is sent (email covers it).
    outcome = await send_reminder(database, settings, booking.id)
    assert outcome == "skipped: outside the 24-hour window and no template configured"
    with_template = settings.model_copy(update={"twilio_reminder_content_sid": TEMPLATE})
    assert await send_reminder(database, with_template, booking.id) == "sent as template"
    template = _sent(settings)[-1]
    assert template["content_sid"] == TEMPLATE
    assert template["content_variables"] == {
        "1": "Sesión",
        "2": owner.organization.name,
        "3": template["content_variables"]["3"],  # type: ignore[index]
    }
    assert template["to"] == patient.monitoring_phone

    session.add(
        MessageLog(
            organization_id=owner.organization.id,
            patient_id=patient.id,
            direction=Direction.INBOUND,
            routing=Routing.ROUTED,
            from_number=patient.monitoring_phone or "",
            to_number=patient.monitoring_number or "",
            body="Hola",
        )
    )
    await session.commit()
    assert await send_reminder(database, settings, booking.id) == "sent as text"
    free = _sent(settings)[-1]
    assert free["content_sid"] is None and "Recordatorio" in str(free["body"])
    assert len(_sent(settings)) == before + 2
    logged = await session.scalar(
        text("SELECT count(*) FROM message_log WHERE patient_id = :id AND direction = 'OUTBOUND'"),
        {"id": patient.id},
    )
    assert logged == 2  # the conversation shows both reminders
    await session.execute(
        text("UPDATE booking SET status = 'CANCELLED' WHERE id = :id"), {"id": booking.id}
    )
    await session.commit()
    assert (await send_reminder(database, settings, uuid.UUID(str(booking.id)))).startswith(
        "skipped"
    )
