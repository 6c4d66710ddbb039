"""Voice notes: fetched from Twilio (only its own HTTPS host, with its credentials), transcribed
with OpenAI Whisper, then screened and analysed like a text message."""

from __future__ import annotations

import uuid
from urllib.parse import urlsplit

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kura.aletheia.screen import Risk
from kura.audit.service import AuditAction, record
from kura.config import Settings, secret_value
from kura.db.engine import Database
from kura.logging import get_logger
from kura.monitoring.models import MessageLog
from kura.orgs.models import Organization
from kura.patients.models import Patient

log = get_logger(__name__)
MAX_MEDIA_BYTES = 25 * 1024 * 1024  # Whisper's own upload limit
TWILIO_MEDIA_HOSTS = ("api.twilio.com",)
WHISPER_LANGUAGES = ("es", "en", "ca")  # ISO-639-1, as Whisper's `language` expects


class TranscriptionFailed(Exception):
    pass


def is_twilio_media(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme == "https" and parts.hostname in TWILIO_MEDIA_HOSTS


async def fetch_media(settings: Settings, url: str) -> bytes:
    """Download with Twilio's credentials. httpx drops them on a redirect to another host."""
    token = secret_value(settings.twilio_auth_token)
    if not is_twilio_media(url) or not settings.twilio_account_sid or token is None:
        raise TranscriptionFailed("media is not fetchable")
    auth = httpx.BasicAuth(settings.twilio_account_sid, token)
    async with (
        httpx.AsyncClient(timeout=30, follow_redirects=True, auth=auth) as client,
        client.stream("GET", url) as response,
    ):
        if response.status_code != 200:
            raise TranscriptionFailed(f"media answered {response.status_code}")
        data = b""
        async for chunk in response.aiter_bytes():
            data += chunk
            if len(data) > MAX_MEDIA_BYTES:
                raise TranscriptionFailed("media too large")
    return data


async def transcribe(settings: Settings, audio: bytes, content_type: str, language: str) -> str:
    # Imported here: the SDK costs half a second at import, and the webhook module imports this.
    from openai import AsyncOpenAI, OpenAIError

    api_key = secret_value(settings.openai_api_key)
    if api_key is None:
        raise TranscriptionFailed("not configured")
    client = AsyncOpenAI(
        api_key=api_key, base_url=settings.openai_base_url, max_retries=2, timeout=60
    )
    extension = content_type.split("/")[-1].split(";")[0] or "ogg"
    try:
        result = await client.audio.transcriptions.create(
            model=settings.openai_transcription_model,
            file=(f"voice.{extension}", audio, content_type),
            language=language if language in WHISPER_LANGUAGES else "es",
        )
    except OpenAIError as exc:
        raise TranscriptionFailed(type(exc).__name__) from None
    return str(result.text).strip()


async def transcribe_voice_note(
    database: Database, settings: Settings, message_id: uuid.UUID
) -> str:
    """Job body: transcribe, store, screen (alert if at risk), queue the analysis."""
    from kura.monitoring.service import local_day
    from kura.monitoring.tasks import queue_analysis

    async with database.sessionmaker() as session, session.begin():
        row = (
            await session.execute(
                select(MessageLog, Organization, Patient.language)
                .join(Organization, Organization.id == MessageLog.organization_id)
                .outerjoin(Patient, Patient.id == MessageLog.patient_id)
                .where(MessageLog.id == message_id)
                .with_for_update(of=MessageLog)
            )
        ).one_or_none()
        if row is None or row[0].transcription_status != "pending":
            return "skipped"
        message, organization, patient_language = row
        try:
            audio = await fetch_media(settings, message.media_url or "")
            text = await transcribe(
                settings,
                audio,
                message.media_content_type or "audio/ogg",
                patient_language or organization.locale,
            )
        except TranscriptionFailed as exc:
            message.transcription_status = "failed"
            await _audit(session, message, organization, outcome="failed")
            log.warning("whatsapp.transcription_failed", message_id=str(message.id), error=str(exc))
            return "failed"
        message.transcript = text[:4096]
        message.transcription_status = "done"
        if message.patient_id is not None:
            await _screen_transcript(
                session, message, organization, message.patient_id, patient_language
            )
            day = local_day(message.created_at, organization.timezone)
            await queue_analysis(session, settings, message.patient_id, day.isoformat())
        await _audit(session, message, organization, outcome="done")
        log.info("whatsapp.transcribed", message_id=str(message.id))
        return "done"


async def _screen_transcript(
    session: AsyncSession,
    message: MessageLog,
    organization: Organization,
    patient_id: uuid.UUID,
    language: str | None,
) -> None:
    """The transcript can only raise the message's stored risk (max of caption and voice).
    When it goes higher than what was already alerted: an alert, and the safety message to
    the patient by WhatsApp (the webhook answered long ago)."""
    from kura.monitoring import replies
    from kura.monitoring.outbound import queue_message
    from kura.monitoring.service import raise_screen_alert, screen_with_context

    screen = await screen_with_context(session, patient_id, message.text, exclude=message.id)
    before = Risk[message.screen_risk]
    message.screen_level = max(message.screen_level, screen.level)
    message.screen_risk = max(before, screen.risk).name
    message.screen_flags = sorted(set(message.screen_flags) | set(screen.flags))
    if screen.needs_alert and screen.risk > before:
        await raise_screen_alert(
            session, organization_id=organization.id, patient_id=patient_id,
            message_id=message.id, screen=screen,
        )  # fmt: skip
        text = replies.safety_reply(
            language,
            country=replies.country_of(message.from_number),
            risk=screen.risk,
            resources=organization.crisis_resources,
        )
        await queue_message(session, reply_to=message, text=text)


async def _audit(
    session: AsyncSession, message: MessageLog, organization: Organization, *, outcome: str
) -> None:
    await record(
        session,
        AuditAction.AI_TRANSCRIPTION_RUN,
        organization_id=organization.id,
        actor_id=None,
        target_type="message",
        target_id=message.id,
        details={"outcome": outcome, "patient_id": str(message.patient_id)},
    )
