"""Monitoring jobs: alert emails and the debounced conversation analysis."""

from __future__ import annotations

import uuid
from datetime import date

import procrastinate
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from kura.config import Settings
from kura.jobs.defer import defer_in_transaction

blueprint = procrastinate.Blueprint()


@blueprint.task(
    name="analyze_conversation",
    pass_context=True,
    queue="analysis",
    retry=procrastinate.RetryStrategy(max_attempts=5, exponential_wait=10),
)
async def analyze_conversation(
    context: procrastinate.JobContext, patient_id: str, day: str
) -> None:
    """Analyse one patient's messages of one local day (re-run as the day goes on)."""
    from kura.monitoring.analysis import run_analysis

    extra = context.additional_context
    await run_analysis(
        extra["database"], extra["settings"], uuid.UUID(patient_id), date.fromisoformat(day)
    )


@blueprint.task(
    name="notify_risk_alert",
    pass_context=True,
    queue="email",
    retry=procrastinate.RetryStrategy(max_attempts=6, exponential_wait=5),
)
async def notify_risk_alert(context: procrastinate.JobContext, alert_id: str) -> None:
    """Email the patient's therapist and the practice's owners (no clinical text)."""
    from kura.monitoring.notify import send_alert_emails

    extra = context.additional_context
    await send_alert_emails(extra["database"], extra["settings"], uuid.UUID(alert_id))


@blueprint.task(
    name="transcribe_voice_note",
    pass_context=True,
    queue="analysis",
    retry=procrastinate.RetryStrategy(max_attempts=4, exponential_wait=10),
)
async def transcribe_voice_note(context: procrastinate.JobContext, message_id: str) -> None:
    """Transcribe a patient's voice note (Whisper), then screen and analyse it."""
    from kura.monitoring.transcribe import transcribe_voice_note as run

    extra = context.additional_context
    await run(extra["database"], extra["settings"], uuid.UUID(message_id))


@blueprint.task(
    name="send_whatsapp_message",
    pass_context=True,
    queue="email",
    retry=procrastinate.RetryStrategy(max_attempts=6, exponential_wait=5),
)
async def send_whatsapp_message(context: procrastinate.JobContext, message_id: str) -> None:
    """Deliver a stored outbound message (Twilio, or the outbox offline)."""
    from kura.monitoring.outbound import deliver

    extra = context.additional_context
    await deliver(extra["database"], extra["settings"], uuid.UUID(message_id))


@blueprint.periodic(cron="* * * * *")
@blueprint.task(name="escalate_unread_alerts", pass_context=True, queue="email")
async def escalate_unread_alerts(context: procrastinate.JobContext, timestamp: int) -> None:
    """Every minute: CRITICAL alerts unacknowledged for ALERT_ESCALATION_MINUTES go out again."""
    from kura.monitoring.escalation import escalate_overdue

    extra = context.additional_context
    await escalate_overdue(extra["database"], extra["settings"])


async def queue_outbound(session: AsyncSession, message_id: uuid.UUID) -> None:
    await defer_in_transaction(session, send_whatsapp_message, message_id=str(message_id))


async def queue_transcription(session: AsyncSession, message_id: uuid.UUID) -> None:
    await defer_in_transaction(session, transcribe_voice_note, message_id=str(message_id))


async def queue_analysis(
    session: AsyncSession, settings: Settings, patient_id: uuid.UUID, day: str
) -> None:
    """Debounced: one waiting analysis per patient and day, run a few minutes after the
    latest burst of messages started."""
    lock = f"analysis:{patient_id}:{day}"
    # Most messages of a burst find the analysis already waiting: one cheap read instead of
    # a refused insert (the queueing lock still settles races).
    waiting = await session.scalar(
        text("SELECT 1 FROM procrastinate_jobs WHERE queueing_lock = :lock AND status = 'todo'"),
        {"lock": lock},
    )
    if waiting:
        return
    await defer_in_transaction(
        session,
        analyze_conversation,
        options={
            "queueing_lock": lock,
            "schedule_in": {"minutes": settings.monitoring_analysis_delay_minutes},
        },
        patient_id=str(patient_id),
        day=day,
    )


async def queue_alert_notification(session: AsyncSession, alert_id: uuid.UUID) -> None:
    await defer_in_transaction(session, notify_risk_alert, alert_id=str(alert_id))
