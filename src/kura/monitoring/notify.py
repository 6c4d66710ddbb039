"""Risk alert emails to the patient's therapist and the practice's owners. No clinical text,
no patient name: a link to the alert in KURA."""

from __future__ import annotations

import uuid

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from kura.config import Settings
from kura.db.engine import Database
from kura.monitoring.models import RiskAlert
from kura.notify.email import Email, email_sender
from kura.orgs.models import Organization
from kura.patients.models import Patient
from kura.users.models import Role, User

_TEXT = {
    "es": (
        "KURA OS: alerta de riesgo ({risk})",
        "AletheIA ha detectado señales de riesgo ({risk}) en los mensajes de un paciente de "
        "{org}.\n\nRevísala cuanto antes:\n{link}\n\nEste aviso no es un diagnóstico.",
    ),
    "en": (
        "KURA OS: risk alert ({risk})",
        "AletheIA detected risk signals ({risk}) in the messages of a patient of {org}.\n\n"
        "Please review it as soon as possible:\n{link}\n\nThis notice is not a diagnosis.",
    ),
}


async def alert_recipients(session: AsyncSession, patient: Patient) -> list[User]:
    """The practice's active owners and the patient's assigned therapist."""
    conditions = [User.role == Role.OWNER]
    if patient.assigned_therapist_id is not None:
        conditions.append(User.id == patient.assigned_therapist_id)
    rows = await session.scalars(
        select(User).where(
            User.organization_id == patient.organization_id,
            User.is_active.is_(True),
            or_(*conditions),
        )
    )
    return list(rows)


async def send_alert_emails(database: Database, settings: Settings, alert_id: uuid.UUID) -> int:
    async with database.sessionmaker() as session:
        row = (
            await session.execute(
                select(RiskAlert, Patient, Organization)
                .join(Patient, Patient.id == RiskAlert.patient_id)
                .join(Organization, Organization.id == RiskAlert.organization_id)
                .where(RiskAlert.id == alert_id)
            )
        ).one_or_none()
        if row is None:
            return 0
        alert, patient, organization = row
        recipients = await alert_recipients(session, patient)
    sender = email_sender(settings)
    link = f"{settings.frontend_url}/monitoring/alerts/{alert.id}"
    for user in recipients:
        language = user.locale or organization.locale
        subject, body = _TEXT["en" if language == "en" else "es"]
        values = {"risk": alert.risk, "org": organization.name, "link": link}
        await sender.send(
            Email(to=user.email, subject=subject.format(**values), text=body.format(**values))
        )
    return len(recipients)
