"""The day-before reminder: confirmed bookings in the next 24 hours get one email, once."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from kura.auth.sessions import utcnow
from kura.bookings.models import Booking, BookingStatus, Service
from kura.bookings.reminders import queue_due_reminders
from kura.config import Settings
from kura.db.engine import Database
from tests.email_support import newest_mail_to
from tests.factories import Member, make_patient
from tests.scheduling_support import run_booking_emails


async def test_one_reminder_per_confirmed_booking_in_the_next_day(
    owner: Member, session: AsyncSession, settings: Settings, database: Database
) -> None:
    service = Service(
        organization_id=owner.organization.id, name="Sesión", duration_minutes=50, price_cents=0
    )
    session.add(service)
    await session.flush()
    now = utcnow()
    cases = {
        "due@example.org": (timedelta(hours=20), BookingStatus.CONFIRMED),
        "soon@example.org": (timedelta(hours=1), BookingStatus.CONFIRMED),  # too late: noise
        "later@example.org": (timedelta(hours=28), BookingStatus.CONFIRMED),  # a later run
        "cancelled@example.org": (timedelta(hours=20), BookingStatus.CANCELLED),
        None: (timedelta(hours=20), BookingStatus.CONFIRMED),  # no email to write to
    }
    for index, (email, (ahead, status)) in enumerate(cases.items()):
        patient = await make_patient(
            session, owner.organization, email=email, phone=f"+3461100{index:04d}"
        )
        session.add(
            Booking(
                organization_id=owner.organization.id,
                patient_id=patient.id,
                service_id=service.id,
                starts_at=now + ahead + timedelta(minutes=index * 60),
                ends_at=now + ahead + timedelta(minutes=index * 60 + 50),
                status=status,
                amount_cents=0,
                currency="eur",
            )
        )
    await session.flush()
    day_before = [24]  # one offset here; several: tests/test_reminder_offsets.py
    assert await queue_due_reminders(session, now, day_before) == 1
    assert await queue_due_reminders(session, now, day_before) == 0  # claimed: never twice
    later = now + timedelta(hours=7)
    assert await queue_due_reminders(session, later, day_before) == 1  # "later" is due
    assert await run_booking_emails(database, settings) == 2
    message = newest_mail_to(settings.kura_data_dir / "outbox" / "email", "due@example.org")
    assert message is not None and message["Subject"] == "Recordatorio: tu cita de Sesión"
    assert newest_mail_to(settings.kura_data_dir / "outbox" / "email", "soon@example.org") is None
