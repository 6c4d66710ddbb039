"""Monitoring reads (OWNER/THERAPIST only; every read of messages or analyses is audited),
risk alerts, and the practice's WhatsApp settings."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from sqlalchemy import select

from kura.audit.service import AuditAction, record
from kura.auth.dependencies import ClinicalStaff, Owner
from kura.auth.sessions import Authenticated
from kura.config import Settings
from kura.db.base import utcnow
from kura.db.session import DbSession
from kura.handlers import Responses
from kura.monitoring import alerts
from kura.monitoring.enrollment import create_enrollment, withdraw
from kura.monitoring.models import DailyConversationAnalysis, MessageLog, RiskAlert
from kura.monitoring.practice_texts import update_texts
from kura.monitoring.repository import open_alerts, recent_alerts
from kura.monitoring.schemas import (
    AnalysisPage,
    EnrollmentRead,
    MessagePage,
    MonitoringSettings,
    MonitoringSettingsUpdate,
    RiskAlertPage,
    RiskAlertRead,
    WithdrawalRead,
)
from kura.orgs.models import Organization
from kura.pagination import Pagination, paginate
from kura.patients.repository import get_readable as get_patient
from kura.request_info import client_ip

router = APIRouter(tags=["monitoring"])
CLINICAL: Responses = {
    403: {"description": "Assistants cannot see clinical content"},
    404: {"description": "Not in your organization"},
}


async def _audit(
    session: DbSession,
    auth: Authenticated,
    request: Request,
    action: AuditAction,
    target_id: uuid.UUID,
    target_type: str = "patient",
) -> None:
    await record(
        session,
        action,
        organization_id=auth.user.organization_id,
        actor_id=auth.user.id,
        target_type=target_type,
        target_id=target_id,
        ip=client_ip(request),
    )


@router.get(
    "/monitoring/risk-alerts",
    response_model=RiskAlertPage,
    responses={403: CLINICAL[403]},
)
async def list_risk_alerts(
    auth: ClinicalStaff,
    session: DbSession,
    pages: Pagination,
    hours: Annotated[int, Query(ge=1, le=168)] = 24,
    status: Annotated[
        Literal["open", "recent"],
        Query(description="open: every unacknowledged alert, whatever its age (hours ignored)"),
    ] = "recent",
) -> RiskAlertPage:
    """Your practice's risk alerts, newest first: every open one, or all of the last `hours`."""
    organization_id = auth.user.organization_id
    statement = (
        open_alerts(organization_id)
        if status == "open"
        else recent_alerts(organization_id, utcnow() - timedelta(hours=hours))
    )
    ordered = statement.order_by(RiskAlert.created_at.desc(), RiskAlert.id)
    rows, total = await paginate(session, ordered, pages)
    return RiskAlertPage.of(rows, total, pages)


@router.post(
    "/monitoring/risk-alerts/{alert_id}/acknowledge",
    response_model=RiskAlertRead,
    responses=CLINICAL,
)
async def acknowledge_risk_alert(
    alert_id: uuid.UUID, auth: ClinicalStaff, request: Request, session: DbSession
) -> RiskAlert:
    """Record that you have seen an alert (who and when). Alerts are never cleared by AI."""
    alert = await alerts.get_alert(session, auth, alert_id)
    await alerts.acknowledge(session, auth, alert, ip=client_ip(request))
    return alert


@router.get(
    "/patients/{patient_id}/monitoring/messages",
    response_model=MessagePage,
    responses=CLINICAL,
)
async def list_messages(
    patient_id: uuid.UUID,
    auth: ClinicalStaff,
    request: Request,
    session: DbSession,
    pages: Pagination,
    days: Annotated[int, Query(ge=1, le=30)] = 7,
) -> MessagePage:
    """A patient's WhatsApp messages (in and out) of the last `days`, newest first."""
    patient = await get_patient(session, auth, patient_id)
    since = utcnow() - timedelta(days=days)
    statement = (
        select(MessageLog)
        .where(MessageLog.patient_id == patient.id, MessageLog.created_at >= since)
        .order_by(MessageLog.created_at.desc(), MessageLog.direction, MessageLog.id)
    )
    rows, total = await paginate(session, statement, pages)
    await _audit(session, auth, request, AuditAction.MONITORING_MESSAGES_VIEWED, patient.id)
    return MessagePage.of(rows, total, pages)


@router.get(
    "/patients/{patient_id}/monitoring/analyses",
    response_model=AnalysisPage,
    responses=CLINICAL,
)
async def list_analyses(
    patient_id: uuid.UUID,
    auth: ClinicalStaff,
    request: Request,
    session: DbSession,
    pages: Pagination,
    days: Annotated[int, Query(ge=1, le=30)] = 7,
) -> AnalysisPage:
    """A patient's daily conversation analyses of the last `days`, newest first."""
    patient = await get_patient(session, auth, patient_id)
    since = (utcnow() - timedelta(days=days)).date()
    statement = (
        select(DailyConversationAnalysis)
        .where(
            DailyConversationAnalysis.patient_id == patient.id,
            DailyConversationAnalysis.day >= since,
        )
        .order_by(DailyConversationAnalysis.day.desc(), DailyConversationAnalysis.id)
    )
    rows, total = await paginate(session, statement, pages)
    await _audit(session, auth, request, AuditAction.MONITORING_ANALYSES_VIEWED, patient.id)
    return AnalysisPage.of(rows, total, pages)


@router.get("/monitoring/settings", response_model=MonitoringSettings)
async def get_monitoring_settings(auth: Owner) -> Organization:
    """Your practice's WhatsApp number and reply texts."""
    return auth.organization


@router.patch("/monitoring/settings", response_model=MonitoringSettings)
async def update_monitoring_settings(
    body: MonitoringSettingsUpdate, auth: Owner, request: Request, session: DbSession
) -> Organization:
    """Set your practice's acknowledgement and crisis-resources texts (added to the emergency
    numbers, never in their place). The WhatsApp number is assigned by a platform operator."""
    return await update_texts(session, auth, body, ip=client_ip(request))


@router.post(
    "/patients/{patient_id}/monitoring/enrollment",
    response_model=EnrollmentRead,
    status_code=201,
    responses={
        **CLINICAL,
        409: {"description": "The patient has no phone on record"},
        429: {"description": "Too many codes for your practice this hour (Retry-After)"},
    },
)
async def create_monitoring_enrollment(
    patient_id: uuid.UUID, auth: ClinicalStaff, request: Request, session: DbSession
) -> EnrollmentRead:
    """A single-use code (7 days) the patient sends from their phone to start monitoring."""
    patient = await get_patient(session, auth, patient_id)
    settings: Settings = request.app.state.settings
    created = await create_enrollment(
        session,
        patient=patient,
        organization=auth.organization,
        created_by_id=auth.user.id,
        shared_number=settings.twilio_whatsapp_number,
    )
    await _audit(session, auth, request, AuditAction.MONITORING_ENROLLMENT_CREATED, patient.id)
    return EnrollmentRead(
        code=created.code,
        expires_at=created.expires_at,
        whatsapp_url=created.whatsapp_url,
        monitoring_status=patient.monitoring_status,
    )


@router.delete(
    "/patients/{patient_id}/monitoring/enrollment",
    response_model=WithdrawalRead,
    responses=CLINICAL,
)
async def revoke_monitoring_enrollment(
    patient_id: uuid.UUID, auth: ClinicalStaff, request: Request, session: DbSession
) -> WithdrawalRead:
    """Stop monitoring this patient and purge the stored message texts and analyses."""
    patient = await get_patient(session, auth, patient_id)
    purged = await withdraw(session, patient, actor_id=auth.user.id, by="staff")
    return WithdrawalRead(monitoring_status=patient.monitoring_status, messages_purged=purged)
