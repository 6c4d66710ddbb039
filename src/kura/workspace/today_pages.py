"""The workspace's home: open risk alerts first (clinicians), the practice's local day of
sessions, and the morning briefing with its audio."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlalchemy import select

from kura.bookings import service as bookings
from kura.bookings.models import Booking, BookingStatus, Service
from kura.briefings.content import local_today, practice_zone
from kura.briefings.endpoints import AUDIO_PATH
from kura.briefings.models import DailyBriefing
from kura.briefings.service import get_or_create
from kura.db.base import utcnow
from kura.db.session import DbSession
from kura.patients.models import Patient
from kura.storage.factory import briefing_store
from kura.users.models import CLINICAL_ROLES
from kura.web_pages import settings_of
from kura.workspace.alert_pages import open_alert_rows
from kura.workspace.web import PREFIX, CheckedForm, Staff, WorkspaceRoute, redirect, render

router = APIRouter(prefix=PREFIX, route_class=WorkspaceRoute, include_in_schema=False)
DAY_LIMIT = 100  # more sessions than any practice holds in a day
ALERTS_ON_TODAY = 10  # the rest are one link away, on /app/alerts


@router.get("")
async def today(request: Request, auth: Staff, session: DbSession) -> HTMLResponse:
    """Today: open alerts (clinicians), the day's sessions and the briefing."""
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
        alerts = await open_alert_rows(session, auth, limit=ALERTS_ON_TODAY + 1)
    briefing = await session.scalar(
        select(DailyBriefing).where(DailyBriefing.user_id == auth.user.id, DailyBriefing.day == day)
    )
    audio = (
        f"{AUDIO_PATH}?day={day.isoformat()}"
        if briefing is not None and briefing.audio_status == "done" and briefing.audio_blob
        else None
    )
    return render(
        request,
        "today.html",
        page="today",
        day=day,
        sessions=sessions,
        alerts=alerts[:ALERTS_ON_TODAY] if alerts is not None else None,
        more_alerts=alerts is not None and len(alerts) > ALERTS_ON_TODAY,
        briefing=briefing,
        audio_url=audio,
    )


@router.post("/briefing")
async def prepare_briefing(
    request: Request, auth: Staff, form: CheckedForm, session: DbSession
) -> RedirectResponse:
    """Write today's briefing now (the morning job usually has); its audio follows."""
    settings = settings_of(request)
    await get_or_create(session, settings, briefing_store(settings), auth)
    return redirect(f"{PREFIX}#briefing")
