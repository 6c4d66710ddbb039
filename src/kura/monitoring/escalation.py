"""Escalation with a clock: a CRITICAL alert nobody acknowledged within
ALERT_ESCALATION_MINUTES is sent again to the practice's owners and the patient's therapist —
by email and by SMS to the phones they set — and shown as escalated. Acknowledging stops it.
No patient name and no message text travel in either."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select

from kura.config import Settings
from kura.db.base import utcnow
from kura.db.engine import Database
from kura.i18n import text
from kura.logging import get_logger
from kura.monitoring.models import RiskAlert
from kura.monitoring.notify import alert_recipients
from kura.notify.email import Email, email_sender
from kura.notify.messaging import TextMessage, message_sender
from kura.orgs.models import Organization
from kura.patients.models import Patient
from kura.users.models import User

log = get_logger(__name__)
BATCH = 50


async def escalate_overdue(
    database: Database, settings: Settings, *, now: datetime | None = None
) -> int:
    """Escalate every overdue CRITICAL alert once; returns how many (each in its own
    transaction, so one failing practice does not hold back the others)."""
    cutoff = (now or utcnow()) - timedelta(minutes=settings.alert_escalation_minutes)
    escalated = 0
    while True:
        async with database.sessionmaker() as session, session.begin():
            row = (
                await session.execute(
                    select(RiskAlert, Patient, Organization)
                    .join(Patient, Patient.id == RiskAlert.patient_id)
                    .join(Organization, Organization.id == RiskAlert.organization_id)
                    .where(
                        RiskAlert.risk == "CRITICAL",
                        RiskAlert.acknowledged_at.is_(None),
                        RiskAlert.escalated_at.is_(None),
                        RiskAlert.created_at <= cutoff,
                    )
                    .order_by(RiskAlert.created_at)
                    .limit(1)
                    .with_for_update(of=RiskAlert, skip_locked=True)
                )
            ).one_or_none()
            if row is None or escalated >= BATCH:
                return escalated
            alert, patient, organization = row
            alert.escalated_at = utcnow()
            recipients = await alert_recipients(session, patient)
            await _send(settings, alert, organization, recipients)
            log.warning("aletheia.alert_escalated", alert_id=str(alert.id), staff=len(recipients))
            escalated += 1


async def _send(
    settings: Settings, alert: RiskAlert, organization: Organization, recipients: list[User]
) -> None:
    link = f"{settings.frontend_url}/monitoring/alerts/{alert.id}"
    emails = email_sender(settings)
    texts = message_sender(settings)
    sms_from = settings.twilio_sms_number or ""
    for user in recipients:
        language = "en" if (user.locale or organization.locale) == "en" else "es"
        subject = text(language, "alerts.escalation_subject")
        body = text(
            language,
            "alerts.escalation_body",
            count=settings.alert_escalation_minutes,
            org=organization.name,
            link=link,
        )
        # One refused address or phone must not stop the others, nor the next alerts.
        try:
            await emails.send(Email(to=user.email, subject=subject, text=body))
        except Exception as exc:
            log.error("aletheia.escalation_email_failed", alert_id=str(alert.id),
                      user_id=str(user.id), error=type(exc).__name__)  # fmt: skip
        if user.phone and sms_from:
            try:
                await texts.send(
                    TextMessage(to=user.phone, body=f"{subject}. {body}", from_number=sms_from,
                                channel="sms")
                )  # fmt: skip
            except Exception as exc:
                log.error("aletheia.escalation_sms_failed", alert_id=str(alert.id),
                          user_id=str(user.id), error=type(exc).__name__)  # fmt: skip
