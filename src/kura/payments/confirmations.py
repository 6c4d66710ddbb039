"""Booking confirmation emails, in each recipient's language."""

from __future__ import annotations

import uuid

from sqlalchemy import or_, select

from kura.bookings.models import Booking, Service
from kura.briefings.content import practice_zone
from kura.config import Settings
from kura.db.engine import Database
from kura.notify.email import Email, email_sender
from kura.orgs.models import Organization
from kura.patients.models import Patient
from kura.users.models import Role, User

_TEXT = {
    "es": (
        "Cita confirmada: {service}",
        "Tu cita de {service} con {org} el {when} está confirmada y pagada.",
    ),
    "en": (
        "Booking confirmed: {service}",
        "Your {service} booking with {org} on {when} is confirmed and paid.",
    ),
}


async def send_confirmations(database: Database, settings: Settings, booking_id: uuid.UUID) -> int:
    async with database.sessionmaker() as session:
        row = (
            await session.execute(
                select(Booking, Service, Patient, Organization)
                .join(Service, Service.id == Booking.service_id)
                .join(Patient, Patient.id == Booking.patient_id)
                .join(Organization, Organization.id == Booking.organization_id)
                .where(Booking.id == booking_id)
            )
        ).one_or_none()
        if row is None:
            return 0
        booking, service, patient, organization = row
        staff_condition = [User.role == Role.OWNER]
        if booking.therapist_id is not None:
            staff_condition = [User.id == booking.therapist_id]
        staff = list(
            await session.scalars(
                select(User).where(
                    User.organization_id == organization.id,
                    User.is_active.is_(True),
                    or_(*staff_condition),
                )
            )
        )
    when = booking.starts_at.astimezone(practice_zone(organization.timezone))
    recipients = [(patient.email, patient.language)] if patient.email else []
    recipients += [(user.email, user.locale or organization.locale) for user in staff]
    sender = email_sender(settings)
    for address, language in recipients:
        subject, body = _TEXT["en" if language == "en" else "es"]
        values = {
            "service": service.name,
            "org": organization.name,
            "when": f"{when:%d/%m/%Y %H:%M}",
        }
        await sender.send(
            Email(to=address, subject=subject.format(**values), text=body.format(**values))
        )
    return len(recipients)
