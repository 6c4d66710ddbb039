"""Risk alerts in the workspace: the open ones, one alert (the link alert emails carry) and
acknowledging it. Clinicians only; reading the message behind an alert is audited."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kura.audit.service import AuditAction, record
from kura.auth.sessions import Authenticated
from kura.briefings.content import practice_zone
from kura.db.session import DbSession
from kura.monitoring import alerts
from kura.monitoring.models import MessageLog, RiskAlert
from kura.monitoring.repository import open_alerts
from kura.patients.models import Patient
from kura.patients.repository import get_readable as get_patient
from kura.request_info import client_ip
from kura.users.models import Role, User
from kura.workspace.web import (
    PREFIX,
    CheckedForm,
    Clinician,
    WorkspaceRoute,
    redirect,
    render,
    safe_next,
)

router = APIRouter(prefix=PREFIX, route_class=WorkspaceRoute, include_in_schema=False)
LIST_LIMIT = 200  # open alerts are acknowledged daily; more than this is a backlog to page


async def open_alert_rows(
    session: AsyncSession, auth: Authenticated, limit: int = LIST_LIMIT
) -> list[dict[str, object]]:
    """The practice's open alerts, newest first, as the pages show them."""
    zone = practice_zone(auth.organization.timezone)
    unacknowledged = open_alerts(auth.organization.id).subquery()
    rows = await session.execute(
        select(unacknowledged, Patient.full_name, Patient.restricted_at)
        .join(Patient, Patient.id == unacknowledged.c.patient_id)
        .order_by(unacknowledged.c.created_at.desc(), unacknowledged.c.id)
        .limit(limit)
    )
    return [
        {
            "id": row.id,
            "risk": row.risk,
            "source": row.source,
            "created": row.created_at.astimezone(zone).strftime("%Y-%m-%d %H:%M"),
            # A restricted record's name stays hidden; the alert itself never does.
            "patient": None if row.restricted_at else row.full_name,
        }
        for row in rows
    ]


@router.get("/alerts")
async def open_alert_list(request: Request, auth: Clinician, session: DbSession) -> HTMLResponse:
    """Every open risk alert of the practice, newest first: none ages out."""
    items = await open_alert_rows(session, auth)
    return render(request, "alerts.html", page="alerts", alerts=items)


@router.get("/monitoring/alerts/{alert_id}")
async def alert_page(
    alert_id: uuid.UUID, request: Request, auth: Clinician, session: DbSession
) -> HTMLResponse:
    """One alert: who, how serious, why, and the message that raised it."""
    alert = await alerts.get_alert(session, auth, alert_id)
    patient = await get_patient(
        session, auth, alert.patient_id, include_restricted=auth.user.role == Role.OWNER
    )
    message = await session.get(MessageLog, alert.message_id) if alert.message_id else None
    if message is not None:
        await record(
            session,
            AuditAction.MONITORING_MESSAGES_VIEWED,
            organization_id=auth.user.organization_id,
            actor_id=auth.user.id,
            target_type="patient",
            target_id=patient.id,
            ip=client_ip(request),
        )
    acknowledged_by = (
        await session.get(User, alert.acknowledged_by_id) if alert.acknowledged_by_id else None
    )
    return render(
        request,
        "alert.html",
        page="alerts",
        alert=alert,
        patient=patient,
        message_text=message.text if message is not None else None,
        local=_local_time(alert, auth.organization.timezone),
        acknowledged_by=acknowledged_by.full_name if acknowledged_by else None,
    )


@router.post("/monitoring/alerts/{alert_id}/acknowledge")
async def acknowledge_alert(
    alert_id: uuid.UUID, request: Request, auth: Clinician, form: CheckedForm, session: DbSession
) -> RedirectResponse:
    """Record that you have seen the alert; it stays in the record with its risk."""
    alert = await alerts.get_alert(session, auth, alert_id)
    await alerts.acknowledge(session, auth, alert, ip=client_ip(request))
    back = form.get("next")
    if isinstance(back, str) and back:
        return redirect(safe_next(back[:300]))
    return redirect(f"{PREFIX}/monitoring/alerts/{alert.id}")


def _local_time(alert: RiskAlert, timezone: str) -> dict[str, str | None]:
    zone = practice_zone(timezone)
    return {
        "created": alert.created_at.astimezone(zone).strftime("%Y-%m-%d %H:%M"),
        "acknowledged": (
            alert.acknowledged_at.astimezone(zone).strftime("%Y-%m-%d %H:%M")
            if alert.acknowledged_at
            else None
        ),
    }
