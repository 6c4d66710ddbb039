"""Briefing jobs: audio retries, and the morning pre-generation."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import procrastinate
from sqlalchemy.ext.asyncio import AsyncSession

from kura.jobs.defer import defer_in_transaction
from kura.logging import get_logger

blueprint = procrastinate.Blueprint()
log = get_logger(__name__)
AUDIO_RETRY_MINUTES = 10


@blueprint.task(name="retry_briefing_audio", pass_context=True, queue="briefings")
async def retry_briefing_audio(context: procrastinate.JobContext, briefing_id: str) -> None:
    """Speak a briefing whose audio failed earlier (not on every request)."""
    from kura.briefings.service import retry_audio
    from kura.storage.factory import briefing_store

    extra = context.additional_context
    database, settings = extra["database"], extra["settings"]
    async with database.sessionmaker() as session, session.begin():
        await retry_audio(session, settings, briefing_store(settings), uuid.UUID(briefing_id))


async def queue_audio_retry(session: AsyncSession, briefing_id: uuid.UUID) -> None:
    await defer_in_transaction(
        session,
        retry_briefing_audio,
        options={
            "queueing_lock": f"briefing-audio:{briefing_id}",
            "schedule_in": {"minutes": AUDIO_RETRY_MINUTES},
        },
        briefing_id=str(briefing_id),
    )


@blueprint.periodic(cron="5 * * * *")
@blueprint.task(name="morning_briefings", pass_context=True, queue="briefings")
async def morning_briefings(context: procrastinate.JobContext, timestamp: int) -> None:
    """Every hour: practices whose local time is BRIEFING_HOUR get their users' briefings made.
    One practice's failure does not stop the others."""
    from kura.briefings.morning import prepare_morning_briefings

    extra = context.additional_context
    moment = datetime.fromtimestamp(timestamp, UTC)
    await prepare_morning_briefings(extra["database"], extra["settings"], moment)
