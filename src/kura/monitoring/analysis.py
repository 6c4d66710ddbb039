"""The daily conversation analysis job body."""

from __future__ import annotations

import asyncio
import uuid
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from kura.ai.pseudonym import EMAIL, PHONE, Pseudonymizer
from kura.aletheia.analyzer import (
    GEMINI,
    OFFLINE,
    AnalysisResult,
    ProviderFailed,
    analyze_offline,
    analyze_with_gemini,
)
from kura.aletheia.reconcile import closed_flags, reconcile
from kura.aletheia.screen import Risk, ScreenResult
from kura.aletheia.taxonomy import ALERTING_FLAGS, Flag
from kura.audit.service import AuditAction, record
from kura.config import Settings
from kura.db.base import utcnow
from kura.db.engine import Database
from kura.logging import get_logger
from kura.monitoring.models import (
    DailyConversationAnalysis,
    Direction,
    MessageLog,
    RiskAlert,
    Routing,
)
from kura.monitoring.tasks import queue_alert_notification
from kura.orgs.models import Organization
from kura.patients.models import Patient
from kura.users.models import User

log = get_logger(__name__)
PROVIDER_ATTEMPTS = 2


def _day_bounds(day: date, timezone: str) -> tuple[datetime, datetime]:
    try:
        zone = ZoneInfo(timezone)
    except (KeyError, ValueError):
        zone = ZoneInfo("Europe/Madrid")
    start = datetime.combine(day, time.min, tzinfo=zone)
    return start, start + timedelta(days=1)


async def _provider_result(
    settings: Settings, texts: list[str], language: str, pseudonyms: Pseudonymizer
) -> tuple[AnalysisResult | None, str]:
    if not settings.uses_gemini:
        return None, OFFLINE
    for attempt in range(1, PROVIDER_ATTEMPTS + 1):
        try:
            result = await analyze_with_gemini(
                settings, texts, language=language, pseudonyms=pseudonyms
            )
            return result, GEMINI
        except ProviderFailed as exc:
            log.warning("aletheia.provider_failed", attempt=attempt, error=str(exc))
            await asyncio.sleep(0.5 * attempt)
    return None, f"{OFFLINE} (gemini failed)"


def merge(ai: AnalysisResult | None, offline: AnalysisResult) -> AnalysisResult:
    """The AI may add risk, never remove it: flags are united, the score is the lower one
    when the rules found risk."""
    if ai is None:
        return offline
    flags = sorted(set(closed_flags(ai.risk_flags)) | set(offline.risk_flags))
    score = ai.sentiment_score
    if offline.risk_flags:
        score = min(score, offline.sentiment_score)
    return ai.model_copy(update={"risk_flags": flags, "sentiment_score": score})


async def run_analysis(
    database: Database, settings: Settings, patient_id: uuid.UUID, day: date
) -> DailyConversationAnalysis | None:
    async with database.sessionmaker() as session, session.begin():
        row = (
            await session.execute(
                select(Patient, Organization)
                .join(Organization, Organization.id == Patient.organization_id)
                .where(Patient.id == patient_id)
            )
        ).one_or_none()
        if row is None or not row[0].monitoring_consent:
            return None
        patient, organization = row
        start, end = _day_bounds(day, organization.timezone)
        messages = list(
            await session.scalars(
                select(MessageLog)
                .where(
                    MessageLog.patient_id == patient.id,
                    MessageLog.direction == Direction.INBOUND,
                    MessageLog.routing == Routing.ROUTED,
                    MessageLog.created_at >= start,
                    MessageLog.created_at < end,
                )
                .order_by(MessageLog.created_at)
            )
        )
        if not messages:
            return None
        texts = [m.text for m in messages]
        screens = [
            ScreenResult(
                level=m.screen_level, risk=Risk[m.screen_risk], flags=tuple(m.screen_flags)
            )
            for m in messages
        ]
        language = patient.language or organization.locale
        offline = analyze_offline(texts, screens, language=language)
        pseudonyms = await _known_people(session, patient)
        ai, method = await _provider_result(settings, texts, language, pseudonyms)
        earlier = await session.scalar(
            select(DailyConversationAnalysis.risk_flags).where(
                DailyConversationAnalysis.patient_id == patient.id,
                DailyConversationAnalysis.day == day,
            )
        )
        result = reconcile(merge(ai, offline), earlier_flags=earlier or (), language=language)
        values = {
            "organization_id": organization.id,
            "patient_id": patient.id,
            "day": day,
            **result.model_dump(),
            "message_count": len(messages),
            "generation_method": method,
        }
        insert_row = insert(DailyConversationAnalysis).values(id=uuid.uuid4(), **values)
        upsert = insert_row.on_conflict_do_update(
            index_elements=["patient_id", "day"],
            set_={**{k: insert_row.excluded[k] for k in values}, "updated_at": utcnow()},
        ).returning(DailyConversationAnalysis.id)
        analysis_id = await session.scalar(upsert)
        alerted = await _flags_alerted(session, patient.id, start, end)
        new_flags = sorted(f for f in set(result.risk_flags) - alerted if Flag(f) in ALERTING_FLAGS)
        if new_flags:
            await _alert_from_analysis(session, patient, new_flags)
        await record(
            session,
            AuditAction.AI_ANALYSIS_RUN,
            organization_id=organization.id,
            actor_id=None,
            target_type="patient",
            target_id=patient.id,
            details={"method": method, "messages": len(messages), "day": day.isoformat()},
        )
        log.info("aletheia.analysis_done", patient_id=str(patient.id), method=method)
        return await session.get(DailyConversationAnalysis, analysis_id)


async def _known_people(session: AsyncSession, patient: Patient) -> Pseudonymizer:
    """The patient and the practice's staff, whose names and contacts never reach the provider."""
    pseudonyms = Pseudonymizer()
    pseudonyms.person(patient.full_name, patient=True)
    for value, kind in (
        (patient.phone, PHONE),
        (patient.monitoring_phone, PHONE),
        (patient.email, EMAIL),
    ):
        pseudonyms.literal(value, kind)
    staff = await session.execute(
        select(User.full_name, User.email, User.phone).where(
            User.organization_id == patient.organization_id
        )
    )
    for full_name, email, phone in staff:
        pseudonyms.person(full_name)
        pseudonyms.literal(email, EMAIL)
        pseudonyms.literal(phone, PHONE)
    return pseudonyms


async def _flags_alerted(
    session: AsyncSession, patient_id: uuid.UUID, start: datetime, end: datetime
) -> set[str]:
    """Every flag already raised for this patient that day (by the screen or an analysis)."""
    rows = await session.scalars(
        select(RiskAlert.flags).where(
            RiskAlert.patient_id == patient_id,
            RiskAlert.created_at >= start,
            RiskAlert.created_at < end,
        )
    )
    return {flag for flags in rows for flag in flags}


async def _alert_from_analysis(session: AsyncSession, patient: Patient, flags: list[str]) -> None:
    alert = RiskAlert(
        organization_id=patient.organization_id,
        patient_id=patient.id,
        source="analysis",
        level=0,
        risk=Risk.HIGH.name,
        flags=flags,
    )
    session.add(alert)
    await session.flush()
    await queue_alert_notification(session, alert.id)
