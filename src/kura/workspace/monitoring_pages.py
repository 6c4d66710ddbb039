"""A patient's WhatsApp monitoring in the workspace: status, a sign-up code to hand over, the
last week's messages and daily analyses (each read audited, as the API's), their alerts, and
stopping it (texts purged). Clinicians only."""

from __future__ import annotations

import uuid
from datetime import timedelta

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlalchemy import select

from kura.audit.service import AuditAction, record
from kura.auth.sessions import Authenticated
from kura.briefings.content import practice_zone
from kura.db.base import utcnow
from kura.db.session import DbSession
from kura.monitoring.enrollment import NewEnrollment, create_enrollment, withdraw
from kura.monitoring.models import DailyConversationAnalysis, MessageLog, RiskAlert
from kura.patients.models import Patient
from kura.patients.repository import get_readable as get_patient
from kura.request_info import client_ip
from kura.web_pages import settings_of
from kura.workspace.web import PREFIX, CheckedForm, Clinician, WorkspaceRoute, redirect, render

router = APIRouter(prefix=PREFIX, route_class=WorkspaceRoute, include_in_schema=False)
WEEK = timedelta(days=7)
SHOWN = 200  # a week of a monitored patient's messages, with room to spare


async def _audit(
    session: DbSession, auth: Authenticated, request: Request, action: AuditAction, patient: Patient
) -> None:
    await record(
        session,
        action,
        organization_id=auth.user.organization_id,
        actor_id=auth.user.id,
        target_type="patient",
        target_id=patient.id,
        ip=client_ip(request),
    )


async def _page(
    request: Request,
    auth: Authenticated,
    session: DbSession,
    patient: Patient,
    enrollment: NewEnrollment | None = None,
) -> HTMLResponse:
    since = utcnow() - WEEK
    messages = list(
        await session.scalars(
            select(MessageLog)
            .where(MessageLog.patient_id == patient.id, MessageLog.created_at >= since)
            .order_by(MessageLog.created_at.desc(), MessageLog.id)
            .limit(SHOWN)
        )
    )
    analyses = list(
        await session.scalars(
            select(DailyConversationAnalysis)
            .where(
                DailyConversationAnalysis.patient_id == patient.id,
                DailyConversationAnalysis.day >= since.date(),
            )
            .order_by(DailyConversationAnalysis.day.desc())
        )
    )
    alerts = list(
        await session.scalars(
            select(RiskAlert)
            .where(
                RiskAlert.organization_id == auth.user.organization_id,
                RiskAlert.patient_id == patient.id,
            )
            .order_by(RiskAlert.created_at.desc(), RiskAlert.id)
            .limit(50)
        )
    )
    await _audit(session, auth, request, AuditAction.MONITORING_MESSAGES_VIEWED, patient)
    await _audit(session, auth, request, AuditAction.MONITORING_ANALYSES_VIEWED, patient)
    return render(
        request,
        "monitoring.html",
        page="patients",
        patient=patient,
        messages=messages,
        analyses=analyses,
        alerts=alerts,
        zone=practice_zone(auth.organization.timezone),
        enrollment=enrollment,
    )


@router.get("/patients/{patient_id}/monitoring")
async def monitoring_page(
    patient_id: uuid.UUID, request: Request, auth: Clinician, session: DbSession
) -> HTMLResponse:
    """WhatsApp monitoring of one patient: status, messages, analyses, alerts."""
    patient = await get_patient(session, auth, patient_id)
    return await _page(request, auth, session, patient)


@router.post("/patients/{patient_id}/monitoring/enrollment")
async def new_code(
    patient_id: uuid.UUID, request: Request, auth: Clinician, form: CheckedForm, session: DbSession
) -> HTMLResponse:
    """A single-use code (7 days) the patient sends from their phone; shown once."""
    patient = await get_patient(session, auth, patient_id)
    created = await create_enrollment(
        session,
        patient=patient,
        organization=auth.organization,
        created_by_id=auth.user.id,
        shared_number=settings_of(request).twilio_whatsapp_number,
    )
    await _audit(session, auth, request, AuditAction.MONITORING_ENROLLMENT_CREATED, patient)
    return await _page(request, auth, session, patient, enrollment=created)


@router.post("/patients/{patient_id}/monitoring/withdraw")
async def stop(
    patient_id: uuid.UUID, request: Request, auth: Clinician, form: CheckedForm, session: DbSession
) -> RedirectResponse:
    """Stop monitoring and delete the stored message texts and analyses (alerts stay)."""
    patient = await get_patient(session, auth, patient_id)
    await withdraw(session, patient, actor_id=auth.user.id, by="staff")
    return redirect(f"{PREFIX}/patients/{patient.id}/monitoring")
