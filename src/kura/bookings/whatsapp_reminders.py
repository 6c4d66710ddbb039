"""The WhatsApp reminder of a booking, to a patient enrolled in monitoring, from the number the
patient enrolled with. WhatsApp delivers free text only within 24 hours of the patient's last
message; outside it only an approved template (TWILIO_REMINDER_CONTENT_SID) can go, and
without one the reminder is left to email (logged, never sent as text Meta would refuse)."""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy import func, select

from kura.bookings.models import Booking, BookingStatus, Service
from kura.briefings.content import practice_zone
from kura.config import Settings
from kura.db.base import utcnow
from kura.db.engine import Database
from kura.i18n import language, text
from kura.logging import get_logger
from kura.monitoring.models import Direction, MessageLog, Routing
from kura.notify.messaging import TextMessage, message_sender
from kura.orgs.models import Organization
from kura.patients.models import Patient

log = get_logger(__name__)
SESSION_WINDOW = timedelta(hours=24)


async def send_reminder(database: Database, settings: Settings, booking_id: uuid.UUID) -> str:
    """Job body: what happened (sent as text, sent as template, or why not)."""
    async with database.sessionmaker() as session, session.begin():
        row = (
            await session.execute(
                select(Booking, Patient, Service, Organization)
                .join(Patient, Patient.id == Booking.patient_id)
                .join(Service, Service.id == Booking.service_id)
                .join(Organization, Organization.id == Booking.organization_id)
                .where(Booking.id == booking_id)
            )
        ).one_or_none()
        if row is None:
            return "skipped: no booking"
        booking, patient, service, organization = row
        if (
            booking.status != BookingStatus.CONFIRMED
            or booking.starts_at <= utcnow()
            or patient.monitoring_status != "active"
            or not (patient.monitoring_phone and patient.monitoring_number)
            or patient.restricted_at is not None
        ):
            return "skipped: not confirmed, past, or not enrolled"
        last_heard = await session.scalar(
            select(func.max(MessageLog.created_at)).where(
                MessageLog.patient_id == patient.id, MessageLog.direction == Direction.INBOUND
            )
        )
        lang = language(patient.language)
        when = (
            f"{booking.starts_at.astimezone(practice_zone(organization.timezone)):%d/%m/%Y %H:%M}"
        )
        body = text(
            lang, "reminders.whatsapp", service=service.name, practice=organization.name, when=when
        )
        message = TextMessage(
            to=patient.monitoring_phone, body=body, from_number=patient.monitoring_number
        )
        how = "text"
        if last_heard is None or utcnow() - last_heard > SESSION_WINDOW:
            if not settings.twilio_reminder_content_sid:
                log.info("reminders.whatsapp_skipped", booking_id=str(booking.id), reason="window")
                return "skipped: outside the 24-hour window and no template configured"
            how = "template"
            message = TextMessage(
                to=message.to,
                body=body,
                from_number=message.from_number,
                content_sid=settings.twilio_reminder_content_sid,
                content_variables={"1": service.name, "2": organization.name, "3": when},
            )
        sid = await message_sender(settings).send(message)
        # The conversation shows what the patient received, like any message we send.
        session.add(
            MessageLog(
                organization_id=organization.id,
                patient_id=patient.id,
                direction=Direction.OUTBOUND,
                routing=Routing.ROUTED,
                from_number=message.from_number,
                to_number=message.to,
                body=body,
                delivery_status="sent",
                provider_sid=sid,
            )
        )
        log.info("reminders.whatsapp_sent", booking_id=str(booking.id), kind=how)
        return f"sent as {how}"
