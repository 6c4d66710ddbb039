"""The emails of a booking's life, in each recipient's language. The patient's carry the
manage link; staff notices carry no patient data (the agenda has it)."""

from __future__ import annotations

import uuid
from enum import StrEnum

from sqlalchemy import or_, select

from kura.bookings.ics import patient_invite
from kura.bookings.links import manage_url
from kura.bookings.models import Booking, BookingSource, BookingStatus, Service
from kura.briefings.content import practice_zone
from kura.config import Settings
from kura.db.engine import Database
from kura.notify.email import Attachment, Email, email_sender
from kura.notify.templates import display_text
from kura.orgs.models import Organization
from kura.patients.models import Patient
from kura.users.models import Role, User


class BookingEvent(StrEnum):
    CREATED = "created"
    PAID = "paid"
    CANCELLED_BY_LINK = "cancelled_by_link"
    RESCHEDULED_BY_LINK = "rescheduled_by_link"
    REMINDER = "reminder"


_PATIENT = {
    ("confirmed", "es"): (
        "Cita confirmada: {service}",
        "Tu cita de {service} con {org} el {when} está confirmada.",
    ),
    ("confirmed", "en"): (
        "Booking confirmed: {service}",
        "Your {service} booking with {org} on {when} is confirmed.",
    ),
    ("paid", "es"): (
        "Cita confirmada: {service}",
        "Tu cita de {service} con {org} el {when} está confirmada y pagada.",
    ),
    ("paid", "en"): (
        "Booking confirmed: {service}",
        "Your {service} booking with {org} on {when} is confirmed and paid.",
    ),
    ("held", "es"): (
        "Cita reservada: {service}",
        "Reservamos tu cita de {service} con {org} el {when} hasta las {hold}, a la espera "
        "del pago. Si no se completa, la hora vuelve a quedar libre.",
    ),
    ("held", "en"): (
        "Booking reserved: {service}",
        "We are holding your {service} booking with {org} on {when} until {hold} while the "
        "payment is completed. Without it, the time is released.",
    ),
    ("booked", "es"): (
        "Cita reservada: {service}",
        "Tienes una cita de {service} con {org} el {when}.",
    ),
    ("booked", "en"): (
        "Booking made: {service}",
        "You have a {service} booking with {org} on {when}.",
    ),
    ("unpaid", "es"): (
        "Cita reservada: {service}",
        "Tienes una cita de {service} con {org} el {when}, pendiente de pago.",
    ),
    ("unpaid", "en"): (
        "Booking made: {service}",
        "You have a {service} booking with {org} on {when}; payment is pending.",
    ),
    ("cancelled", "es"): (
        "Cita cancelada: {service}",
        "Tu cita de {service} con {org} del {when} está cancelada.",
    ),
    ("cancelled", "en"): (
        "Booking cancelled: {service}",
        "Your {service} booking with {org} on {when} is cancelled.",
    ),
    ("rescheduled", "es"): (
        "Cita cambiada: {service}",
        "Tu cita de {service} con {org} es ahora el {when}.",
    ),
    ("rescheduled", "en"): (
        "Booking moved: {service}",
        "Your {service} booking with {org} is now on {when}.",
    ),
}
_PATIENT |= {
    ("reminder", "es"): (
        "Recordatorio: tu cita de {service}",
        "Te recordamos tu cita de {service} con {org} el {when}. Si no puedes venir, "
        "avísanos cuanto antes.",
    ),
    ("reminder", "en"): (
        "Reminder: your {service} booking",
        "A reminder of your {service} booking with {org} on {when}. If you cannot come, "
        "please let us know as soon as you can.",
    ),
}
_MANAGE = {
    "es": "\n\nPara ver, cambiar o cancelar tu cita: {link}\n\n— {org}",
    "en": "\n\nTo view, move or cancel your booking: {link}\n\n— {org}",
}
_STAFF = {
    ("created", "es"): (
        "Nueva reserva online: {service}",
        "Nueva reserva online de {service} el {when}.",
    ),
    ("created", "en"): (
        "New online booking: {service}",
        "New online booking of {service} on {when}.",
    ),
    ("confirmed", "es"): (
        "Reserva confirmada: {service}",
        "La reserva de {service} del {when} está confirmada.",
    ),
    ("confirmed", "en"): (
        "Booking confirmed: {service}",
        "The {service} booking on {when} is confirmed.",
    ),
    ("paid", "es"): (
        "Reserva pagada: {service}",
        "La reserva de {service} del {when} está pagada.",
    ),
    ("paid", "en"): ("Booking paid: {service}", "The {service} booking on {when} is paid."),
    ("cancelled", "es"): (
        "Cita cancelada por el paciente: {service}",
        "El paciente ha cancelado con su enlace la cita de {service} del {when}.",
    ),
    ("cancelled", "en"): (
        "Booking cancelled by the patient: {service}",
        "The patient cancelled the {service} booking on {when} with their link.",
    ),
    ("rescheduled", "es"): (
        "Cita cambiada por el paciente: {service}",
        "El paciente ha movido con su enlace la cita de {service} del {before} al {when}.",
    ),
    ("rescheduled", "en"): (
        "Booking moved by the patient: {service}",
        "The patient moved the {service} booking from {before} to {when} with their link.",
    ),
}


def _patient_kind(event: BookingEvent, booking: Booking, paid: bool) -> str:
    if event == BookingEvent.REMINDER:
        return "reminder"
    if event == BookingEvent.CANCELLED_BY_LINK:
        return "cancelled"
    if event == BookingEvent.RESCHEDULED_BY_LINK:
        return "rescheduled"
    if booking.status == BookingStatus.CONFIRMED:
        # "Paid" only with a succeeded payment behind it: free and staff-confirmed ones are not.
        return "paid" if paid else "confirmed"
    if booking.hold_expires_at is not None:
        return "held"
    return "unpaid" if booking.amount_cents else "booked"


def _staff_kind(event: BookingEvent, booking: Booking, paid: bool) -> str | None:
    if event == BookingEvent.REMINDER:
        return None
    if event == BookingEvent.CREATED:
        return "created" if booking.source == BookingSource.PUBLIC else None
    if event == BookingEvent.PAID:
        return "paid" if paid else "confirmed"
    return "cancelled" if event == BookingEvent.CANCELLED_BY_LINK else "rescheduled"


def _calendar_event(
    event: BookingEvent, booking: Booking, service: Service, organization: Organization
) -> tuple[Attachment, ...]:
    """The booking's .ics for the patient when it is settled, moved or cancelled (not for a
    hold or a reminder: the first would change, the second is already in the calendar)."""
    if event == BookingEvent.REMINDER or booking.status == BookingStatus.PENDING:
        return ()
    invite = patient_invite(booking, service.name, organization.name)
    return (Attachment("cita.ics", "text/calendar", invite),)


async def send_booking_emails(
    database: Database,
    settings: Settings,
    booking_id: uuid.UUID,
    event: BookingEvent,
    *,
    before: str = "",
) -> int:
    """Send what `event` calls for; the number of messages sent."""
    from kura.payments.models import Payment, PaymentStatus

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
        paid = (
            await session.scalar(
                select(Payment.id)
                .where(Payment.booking_id == booking.id, Payment.status == PaymentStatus.SUCCEEDED)
                .limit(1)
            )
        ) is not None
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
    zone = practice_zone(organization.timezone)
    values = {
        "service": display_text(service.name),
        "org": display_text(organization.name),
        "when": f"{booking.starts_at.astimezone(zone):%d/%m/%Y %H:%M}",
        "hold": (
            f"{booking.hold_expires_at.astimezone(zone):%H:%M}" if booking.hold_expires_at else ""
        ),
        "before": before,
    }
    messages = []
    if patient.email and patient.restricted_at is None:
        language = "en" if patient.language == "en" else "es"
        subject, body = _PATIENT[(_patient_kind(event, booking, paid), language)]
        if booking.manage_token_hash is not None and booking.status != BookingStatus.CANCELLED:
            body += _MANAGE[language].format(link=manage_url(settings, booking.id), org="{org}")
        messages.append(
            Email(
                patient.email,
                subject.format(**values),
                body.format(**values),
                _calendar_event(event, booking, service, organization),
            )
        )
    staff_kind = _staff_kind(event, booking, paid)
    if staff_kind is not None:
        for user in staff:
            language = "en" if (user.locale or organization.locale) == "en" else "es"
            subject, body = _STAFF[(staff_kind, language)]
            messages.append(Email(user.email, subject.format(**values), body.format(**values)))
    sender = email_sender(settings)
    for message in messages:
        await sender.send(message)
    return len(messages)
