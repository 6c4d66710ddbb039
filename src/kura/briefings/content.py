"""What the morning briefing says: facts gathered for one user, on the practice's local day."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from kura.auth.sessions import Authenticated
from kura.monitoring.models import RiskAlert
from kura.patients.models import Patient


@dataclass(frozen=True)
class BriefingFacts:
    day: date
    language: str
    first_name: str
    clinical: bool  # OWNER/THERAPIST: may hear patient names
    appointments: int = 0
    first_appointment: time | None = None
    risk_patients: list[str] = field(default_factory=list)  # names, clinical users only
    open_alerts: int = 0
    income_24h: Decimal = Decimal(0)
    currency: str = "EUR"
    pending_items: int = 0


def practice_zone(timezone: str) -> ZoneInfo:
    try:
        return ZoneInfo(timezone)
    except (KeyError, ValueError):
        return ZoneInfo("Europe/Madrid")


def local_today(timezone: str, now: datetime) -> date:
    return now.astimezone(practice_zone(timezone)).date()


async def gather_facts(session: AsyncSession, auth: Authenticated, day: date) -> BriefingFacts:
    user, organization = auth.user, auth.organization
    language = user.locale or organization.locale or "es"
    open_alerts = await session.execute(
        select(Patient.full_name, func.count(RiskAlert.id))
        .join(Patient, Patient.id == RiskAlert.patient_id)
        .where(
            RiskAlert.organization_id == organization.id,
            RiskAlert.acknowledged_at.is_(None),
        )
        .group_by(Patient.full_name)
        .order_by(func.max(RiskAlert.created_at).desc())
    )
    rows = open_alerts.all()
    alert_count = sum(int(count) for _, count in rows)
    # Bookings and payments are not part of this codebase yet (their issue adds them): until
    # then the agenda and income are honestly zero, and the briefing says so.
    return BriefingFacts(
        day=day,
        language="en" if language == "en" else "es",
        first_name=user.full_name.split()[0] if user.full_name.strip() else user.full_name,
        clinical=user.is_clinical,
        risk_patients=[name for name, _ in rows] if user.is_clinical else [],
        open_alerts=alert_count,
        pending_items=alert_count,
    )
