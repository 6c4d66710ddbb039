"""Risk alert emails to the patient's therapist and the practice's owners. No clinical text,
no patient name: a link to the alert in KURA."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from kura.config import Settings
from kura.db.engine import Database
from kura.i18n import text
from kura.monitoring.models import RiskAlert
from kura.notify.email import Email, email_sender
from kura.orgs.models import Organization
from kura.patients.models import Patient
from kura.users.models import Role, User


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
        language = "en" if (user.locale or organization.locale) == "en" else "es"
        values: dict[str, Any] = {"risk": alert.risk, "org": organization.name, "link": link}
        subject = text(language, "alerts.risk_subject", **values)
        await sender.send(
            Email(to=user.email, subject=subject, text=text(language, "alerts.risk_body", **values))
        )
    return len(recipients)
