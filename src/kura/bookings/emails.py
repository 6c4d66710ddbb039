"""The emails of a booking's life, in each recipient's language. The patient's carry the
manage link; staff notices carry no patient data (the agenda has it)."""

from __future__ import annotations

import uuid
from enum import StrEnum
from typing import Any

from sqlalchemy import or_, select

from kura.bookings.ics import patient_invite
from kura.bookings.links import manage_url
from kura.bookings.models import Booking, BookingSource, BookingStatus, Service
from kura.briefings.content import practice_zone
from kura.config import Settings
from kura.db.engine import Database
from kura.i18n import text
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
    values: dict[str, Any] = {
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
        kind = _patient_kind(event, booking, paid)
        body = text(language, f"bookings.patient_{kind}_body", **values)
        if booking.manage_token_hash is not None and booking.status != BookingStatus.CANCELLED:
            link = manage_url(settings, booking.id)
            body += text(language, "bookings.manage", link=link, org=values["org"])
        messages.append(
            Email(
                patient.email,
                text(language, f"bookings.patient_{kind}_subject", **values),
                body,
                _calendar_event(event, booking, service, organization),
            )
        )
    staff_kind = _staff_kind(event, booking, paid)
    if staff_kind is not None:
        for user in staff:
            language = "en" if (user.locale or organization.locale) == "en" else "es"
            subject = text(language, f"bookings.staff_{staff_kind}_subject", **values)
            body = text(language, f"bookings.staff_{staff_kind}_body", **values)
            messages.append(Email(user.email, subject, body))
    sender = email_sender(settings)
    for message in messages:
        await sender.send(message)
    return len(messages)
