"""What the morning briefing says: facts gathered for one user, on the practice's local day."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from kura.auth.sessions import Authenticated
from kura.bookings.models import Booking, BookingStatus
from kura.db.base import utcnow
from kura.monitoring.repository import open_alerts
from kura.patients.models import Patient
from kura.payments.models import Payment, PaymentKind, PaymentStatus
from kura.users.models import Role


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
    # Net of refunds, per currency (ISO code, lower case as Stripe writes it), largest first.
    income_24h: dict[str, Decimal] = field(default_factory=dict)
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
    unacknowledged = open_alerts(organization.id).subquery()
    open_rows = await session.execute(
        select(Patient.full_name, func.count(unacknowledged.c.id))
        .join(Patient, Patient.id == unacknowledged.c.patient_id)
        .group_by(Patient.full_name)
        .order_by(func.max(unacknowledged.c.created_at).desc())
    )
    rows = open_rows.all()
    alert_count = sum(int(count) for _, count in rows)
    appointments, first = await _agenda(session, auth, day)
    return BriefingFacts(
        day=day,
        language="en" if language == "en" else "es",
        first_name=user.full_name.split()[0] if user.full_name.strip() else user.full_name,
        clinical=user.is_clinical,
        risk_patients=[name for name, _ in rows] if user.is_clinical else [],
        open_alerts=alert_count,
        pending_items=alert_count,
        appointments=appointments,
        first_appointment=first,
        income_24h=await _income_24h(session, auth),
    )


async def _agenda(session: AsyncSession, auth: Authenticated, day: date) -> tuple[int, time | None]:
    """A therapist's own bookings of the day; the whole practice's for owners and assistants."""
    zone = practice_zone(auth.organization.timezone)
    start = datetime.combine(day, time.min, tzinfo=zone)
    query = select(func.count(), func.min(Booking.starts_at)).where(
        Booking.organization_id == auth.organization.id,
        Booking.status.in_((BookingStatus.PENDING, BookingStatus.CONFIRMED)),
        Booking.starts_at >= start,
        Booking.starts_at < start + timedelta(days=1),
    )
    if auth.user.role == Role.THERAPIST:
        query = query.where(Booking.therapist_id == auth.user.id)
    count, first = (await session.execute(query)).one()
    return int(count), first.astimezone(zone).time() if first else None


async def _income_24h(session: AsyncSession, auth: Authenticated) -> dict[str, Decimal]:
    """Succeeded patient payments of the last 24 hours less their refunds, per currency (the
    payments table is the source; amounts in different currencies are never added up)."""
    net = func.sum(Payment.amount_cents - Payment.refunded_cents)
    rows = await session.execute(
        select(Payment.currency, net)
        .where(
            Payment.organization_id == auth.organization.id,
            Payment.kind == PaymentKind.BOOKING,
            Payment.status == PaymentStatus.SUCCEEDED,
            Payment.succeeded_at >= utcnow() - timedelta(hours=24),
        )
        .group_by(Payment.currency)
        .order_by(net.desc(), Payment.currency)
    )
    return {currency.lower(): Decimal(int(cents)) / 100 for currency, cents in rows if cents}
