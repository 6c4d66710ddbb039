"""Voice notes: fetched only from Twilio with its credentials, transcribed by Whisper (faked at
the HTTP boundary with respx), then screened like text."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer

import httpx
import pytest
import respx
from pydantic import SecretStr
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kura.audit.models import AuditEvent
from kura.config import Settings
from kura.db.engine import Database
from kura.monitoring.models import MessageLog, RiskAlert
from kura.monitoring.service import Inbound, handle_inbound
from kura.monitoring.transcribe import transcribe_voice_note
from tests.factories import Member, make_patient

MEDIA = "https://api.twilio.com/2010-04-01/Accounts/AC00/Messages/MM01/Media/ME01"
CDN = "https://media.twiliocdn.example/ME01.ogg"
SID = "AC" + "1" * 32


class _FakeWhisper(BaseHTTPRequestHandler):
    """OpenAI's SDK speaks its own HTTP stack (not httpx): faked by a local server."""

    calls: list[dict[str, str]] = []
    bodies: list[bytes] = []
    text = ""

    def do_POST(self) -> None:
        self.bodies.append(self.rfile.read(int(self.headers["Content-Length"])))
        self.calls.append({"path": self.path, "auth": self.headers.get("Authorization", "")})
        body = json.dumps({"text": self.text}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        return None


@pytest.fixture
def voice_settings(settings: Settings) -> Iterator[Settings]:
    _FakeWhisper.calls = []
    _FakeWhisper.bodies = []
    server = HTTPServer(("127.0.0.1", 0), _FakeWhisper)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield settings.model_copy(
        update={
            "openai_api_key": SecretStr("sk-test-openai"),
            "openai_base_url": f"http://127.0.0.1:{server.server_address[1]}/v1",
            "twilio_account_sid": SID,
            "twilio_auth_token": SecretStr("twilio-token-for-media"),
        }
    )
    server.shutdown()


async def _voice_note(
    session: AsyncSession,
    settings: Settings,
    owner: Member,
    url: str,
    *,
    caption: str = "",
    language: str = "es",
) -> uuid.UUID:
    await make_patient(
        session,
        owner.organization,
        phone="+34612333444",
        monitoring_consent=True,
        language=language,
    )
    outcome = await handle_inbound(
        session,
        settings,
        Inbound(
            sid=f"SM{uuid.uuid4().hex}",
            from_number="+34612333444",
            to_number="+34911000000",
            body=caption,
            media_content_type="audio/ogg",
            media_url=url,
        ),
    )
    assert outcome.message_id is not None
    return outcome.message_id


@respx.mock
async def test_a_voice_note_is_transcribed_and_screened(
    session: AsyncSession, database: Database, voice_settings: Settings, owner: Member
) -> None:
    message_id = await _voice_note(session, voice_settings, owner, MEDIA, caption="Escucha 🎧")
    stored = await session.get_one(MessageLog, message_id)
    assert stored.transcription_status == "pending"
    media = respx.get(MEDIA).mock(return_value=httpx.Response(307, headers={"Location": CDN}))
    cdn = respx.get(CDN).mock(return_value=httpx.Response(200, content=b"OggS fake audio"))
    _FakeWhisper.text = "Ya no puedo más, quiero morirme"
    assert await transcribe_voice_note(database, voice_settings, message_id) == "done"
    # Twilio's credentials go to Twilio only, never to the host it redirects to.
    assert media.calls[0].request.headers["authorization"].startswith("Basic ")
    assert "authorization" not in cdn.calls[0].request.headers
    assert _FakeWhisper.calls == [
        {"path": "/v1/audio/transcriptions", "auth": "Bearer sk-test-openai"}
    ]
    await session.refresh(stored)
    # The caption is kept; what was said is stored beside it.
    assert (stored.body, stored.transcript) == ("Escucha 🎧", "Ya no puedo más, quiero morirme")
    assert stored.transcription_status == "done" and "suicidal_ideation" in stored.screen_flags
    alert = await session.scalar(select(RiskAlert).where(RiskAlert.message_id == message_id))
    assert alert is not None
    audited = await session.scalar(
        select(AuditEvent).where(AuditEvent.action == "ai.transcription_run")
    )
    assert audited is not None and audited.target_id == str(message_id)
    # Done once: a retried job does nothing more.
    assert await transcribe_voice_note(database, voice_settings, message_id) == "skipped"


@respx.mock
async def test_a_transcript_only_raises_the_risk_and_uses_the_patients_language(
    session: AsyncSession, database: Database, voice_settings: Settings, owner: Member
) -> None:
    caption = "Ya he escrito las cartas de despedida y tengo las pastillas guardadas"
    message_id = await _voice_note(
        session, voice_settings, owner, MEDIA, caption=caption, language="ca"
    )
    stored = await session.get_one(MessageLog, message_id)
    assert stored.screen_risk == "CRITICAL"
    respx.get(MEDIA).mock(return_value=httpx.Response(200, content=b"OggS fake audio"))
    _FakeWhisper.text = "Bon dia, ens veiem dimarts a les cinc"
    assert await transcribe_voice_note(database, voice_settings, message_id) == "done"
    await session.refresh(stored)
    # A benign transcript never lowers what the caption raised, and raises no second alert.
    assert stored.screen_risk == "CRITICAL" and stored.body == caption
    alerts = (
        await session.scalars(select(RiskAlert).where(RiskAlert.message_id == message_id))
    ).all()
    assert len(alerts) == 1
    # Whisper is asked for the patient's language (Catalan), not the practice's locale.
    assert b'name="language"\r\n\r\nca\r\n' in _FakeWhisper.bodies[0]


@respx.mock
async def test_a_failing_transcription_is_recorded_not_lost(
    session: AsyncSession, database: Database, voice_settings: Settings, owner: Member
) -> None:
    message_id = await _voice_note(session, voice_settings, owner, MEDIA)
    respx.get(MEDIA).mock(return_value=httpx.Response(404))
    assert await transcribe_voice_note(database, voice_settings, message_id) == "failed"
    stored = await session.get_one(MessageLog, message_id)
    await session.refresh(stored)
    assert stored.transcription_status == "failed" and stored.media_url == MEDIA


async def test_without_an_openai_key_voice_notes_wait_untranscribed(
    session: AsyncSession, settings: Settings, owner: Member
) -> None:
    message_id = await _voice_note(session, settings, owner, MEDIA)
    stored = await session.get_one(MessageLog, message_id)
    assert stored.transcription_status == "unavailable"
