"""The workspace's home: today's sessions in the practice's time zone and the open alerts."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from sqlalchemy import func, select

from kura.bookings import service as bookings
from kura.bookings.models import Booking, BookingStatus, Service
from kura.briefings.content import local_today, practice_zone
from kura.db.base import utcnow
from kura.db.session import DbSession
from kura.monitoring.repository import open_alerts
from kura.patients.models import Patient
from kura.users.models import CLINICAL_ROLES
from kura.workspace.web import PREFIX, Staff, WorkspaceRoute, render

router = APIRouter(prefix=PREFIX, route_class=WorkspaceRoute, include_in_schema=False)
DAY_LIMIT = 100  # more sessions than any practice holds in a day


@router.get("")
async def today(request: Request, auth: Staff, session: DbSession) -> HTMLResponse:
    """Today: the day's sessions (every staff role) and the open alerts (clinicians)."""
    zone = practice_zone(auth.organization.timezone)
    day = local_today(auth.organization.timezone, utcnow())
    day_bookings = bookings.agenda(auth, day).where(Booking.status != BookingStatus.CANCELLED)
    rows = await session.execute(
        day_bookings.join(Patient, Patient.id == Booking.patient_id)
        .join(Service, Service.id == Booking.service_id)
        .with_only_columns(
            Booking.starts_at, Booking.ends_at, Booking.status, Patient.full_name, Service.name
        )
        .limit(DAY_LIMIT)
    )
    sessions = [
        {
            "starts": starts.astimezone(zone).strftime("%H:%M"),
            "ends": ends.astimezone(zone).strftime("%H:%M"),
            "status": status.value,
            "patient": patient,
            "service": service,
        }
        for starts, ends, status, patient, service in rows
    ]
    alerts = None
    if auth.user.role in CLINICAL_ROLES:
        unacknowledged = open_alerts(auth.organization.id).subquery()
        alerts = await session.scalar(select(func.count()).select_from(unacknowledged))
    return render(
        request, "today.html", page="today", day=day, sessions=sessions, open_alerts=alerts
    )
