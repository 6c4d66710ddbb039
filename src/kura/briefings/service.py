"""Making, caching and re-speaking briefings."""

from __future__ import annotations

import contextlib
import uuid
from datetime import date

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kura.auth.sessions import Authenticated
from kura.briefings.content import gather_facts, local_today
from kura.briefings.models import DailyBriefing
from kura.briefings.script import write_script
from kura.briefings.speech import SpeechFailed, synthesize
from kura.config import Settings
from kura.db.base import utcnow
from kura.logging import get_logger
from kura.storage.blobs import BlobNotFound, BlobStore
from kura.storage.factory import briefing_store

log = get_logger(__name__)
MAX_AUDIO_ATTEMPTS = 3


def audio_name(briefing: DailyBriefing) -> str:
    return f"briefing_{briefing.user_id}_{briefing.day.isoformat()}.mp3"


async def get_or_create(
    session: AsyncSession,
    settings: Settings,
    store: BlobStore,
    auth: Authenticated,
    *,
    refresh: bool = False,
) -> tuple[DailyBriefing, bool]:
    """(briefing, cached). A cached briefing costs no provider call."""
    day = local_today(auth.organization.timezone, utcnow())
    existing = await session.scalar(
        select(DailyBriefing).where(DailyBriefing.user_id == auth.user.id, DailyBriefing.day == day)
    )
    if existing is not None and not refresh:
        if existing.audio_status == "failed":
            await _queue_audio_retry(session, existing)
        return existing, True
    return await generate(session, settings, store, auth, day, existing), False


async def generate(
    session: AsyncSession,
    settings: Settings,
    store: BlobStore,
    auth: Authenticated,
    day: date,
    existing: DailyBriefing | None = None,
) -> DailyBriefing:
    facts = await gather_facts(session, auth, day)
    script, script_method = await write_script(settings, facts)
    briefing = existing or DailyBriefing(
        organization_id=auth.organization.id, user_id=auth.user.id, day=day
    )
    briefing.language = facts.language
    briefing.text_script = script
    briefing.script_method = script_method
    briefing.generated_at = utcnow()
    briefing.audio_attempts = 0
    if existing is None:
        session.add(briefing)
    await session.flush()
    await speak(session, settings, store, briefing)
    return briefing


async def speak(
    session: AsyncSession, settings: Settings, store: BlobStore, briefing: DailyBriefing
) -> bool:
    """Make and store the audio; on failure keep the text, record why, retry later."""
    briefing.audio_attempts += 1
    try:
        speech = await synthesize(settings, briefing.text_script, briefing.language)
        name = audio_name(briefing)
        await store.put_bytes(name, speech.mp3)
    except (SpeechFailed, OSError) as exc:
        briefing.audio_status = "failed"
        briefing.audio_error = str(exc)[:200] or type(exc).__name__
        briefing.audio_blob = None
        log.warning(
            "briefing.audio_failed", briefing_id=str(briefing.id), reason=briefing.audio_error
        )
        await session.flush()
        await _queue_audio_retry(session, briefing)
        return False
    briefing.audio_status = "done"
    briefing.audio_error = None
    briefing.audio_blob = name
    briefing.audio_method = speech.method
    await session.flush()
    return True


async def _queue_audio_retry(session: AsyncSession, briefing: DailyBriefing) -> None:
    from kura.briefings.tasks import queue_audio_retry

    if briefing.audio_attempts < MAX_AUDIO_ATTEMPTS:
        await queue_audio_retry(session, briefing.id)


async def retry_audio(
    session: AsyncSession, settings: Settings, store: BlobStore, briefing_id: uuid.UUID
) -> bool:
    briefing = await session.get(DailyBriefing, briefing_id, with_for_update=True)
    if briefing is None or briefing.audio_status == "done":
        return False
    return await speak(session, settings, store, briefing)


async def audio_of_users(session: AsyncSession, user_ids: list[uuid.UUID]) -> list[str]:
    """Names of the stored audio of these users' briefings (to remove with their account)."""
    rows = await session.scalars(
        select(DailyBriefing.audio_blob).where(
            DailyBriefing.user_id.in_(user_ids), DailyBriefing.audio_blob.is_not(None)
        )
    )
    return [name for name in rows if name]


async def remove_audio(settings: Settings, names: list[str]) -> None:
    store = briefing_store(settings)
    for name in names:
        with contextlib.suppress(BlobNotFound):
            await store.delete(name)
