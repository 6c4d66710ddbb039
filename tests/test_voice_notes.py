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


class _FakeTwilioMessages(BaseHTTPRequestHandler):
    """Twilio's Messages API (POST /2010-04-01/Accounts/{sid}/Messages.json): 201 with the
    message resource (fields as in Twilio's API reference for the Message resource), or the
    error object for code 63016 — sending free-form text outside WhatsApp's 24-hour window
    (the message text is Twilio's error dictionary's, abridged)."""

    calls: list[dict[str, str]] = []
    outside_window = False

    def do_POST(self) -> None:
        from urllib.parse import parse_qsl

        form = dict(parse_qsl(self.rfile.read(int(self.headers["Content-Length"])).decode()))
        self.calls.append({"path": self.path, **form})
        if self.outside_window:
            status, payload = (
                400,
                {
                    "code": 63016,
                    "message": "Failed to send freeform message because you are outside the "
                    "allowed window. If you are using WhatsApp, please use a Message Template.",
                    "more_info": "https://www.twilio.com/docs/errors/63016",
                    "status": 400,
                },
            )
        else:
            status, payload = (
                201,
                {
                    "sid": "SM" + "f" * 32,
                    "account_sid": SID,
                    "from": form["From"],
                    "to": form["To"],
                    "body": form["Body"],
                    "status": "queued",
                    "direction": "outbound-api",
                    "api_version": "2010-04-01",
                    "num_segments": "1",
                    "num_media": "0",
                    "error_code": None,
                    "error_message": None,
                    "uri": f"/2010-04-01/Accounts/{SID}/Messages/SM{'f' * 32}.json",
                },
            )
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        return None


@pytest.fixture
def twilio_api(voice_settings: Settings) -> Iterator[Settings]:
    _FakeTwilioMessages.calls = []
    _FakeTwilioMessages.outside_window = False
    server = HTTPServer(("127.0.0.1", 0), _FakeTwilioMessages)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield voice_settings.model_copy(
        update={"twilio_api_base": f"http://127.0.0.1:{server.server_address[1]}"}
    )
    server.shutdown()


@respx.mock
async def test_a_voice_note_at_risk_gets_the_safety_message_by_whatsapp(
    session: AsyncSession, database: Database, twilio_api: Settings, owner: Member
) -> None:
    from kura.monitoring.outbound import deliver
    from kura.notify.messaging import MessageDeliveryError

    message_id = await _voice_note(session, twilio_api, owner, MEDIA)
    respx.get(MEDIA).mock(return_value=httpx.Response(200, content=b"OggS fake audio"))
    _FakeWhisper.text = "Esta noche me voy a matar, ya lo tengo decidido"
    assert await transcribe_voice_note(database, twilio_api, message_id) == "done"
    outbound = await session.scalar(
        select(MessageLog).where(
            MessageLog.in_reply_to_id == message_id, MessageLog.delivery_status == "pending"
        )
    )
    assert outbound is not None and "Llama al 112 ahora" in (outbound.body or "")
    assert outbound.to_number == "+34612333444" and outbound.from_number == "+34911000000"
    # Outside the 24-hour window Twilio refuses (63016): the job fails and will retry.
    _FakeTwilioMessages.outside_window = True
    with pytest.raises(MessageDeliveryError, match="code 63016"):
        await deliver(database, twilio_api, outbound.id)
    _FakeTwilioMessages.outside_window = False
    assert await deliver(database, twilio_api, outbound.id) == "sent"
    call = _FakeTwilioMessages.calls[-1]
    assert call["path"] == f"/2010-04-01/Accounts/{SID}/Messages.json"
    assert call["From"] == "whatsapp:+34911000000" and call["To"] == "whatsapp:+34612333444"
    await session.refresh(outbound)
    assert outbound.delivery_status == "sent" and outbound.provider_sid == "SM" + "f" * 32
    assert await deliver(database, twilio_api, outbound.id) == "skipped"  # sent once


async def test_without_twilio_credentials_messages_go_to_the_outbox(
    session: AsyncSession, database: Database, settings: Settings, owner: Member
) -> None:
    from kura.monitoring.outbound import deliver, queue_message

    message_id = await _voice_note(session, settings, owner, MEDIA)
    inbound = await session.get_one(MessageLog, message_id)
    outbound_id = await queue_message(session, reply_to=inbound, text="Llama al 112 ahora.")
    assert await deliver(database, settings, outbound_id) == "sent"
    outbound = await session.get_one(MessageLog, outbound_id)
    await session.refresh(outbound)
    # Other tests share this outbox: find this message's file by its provider id.
    (path,) = (settings.kura_data_dir / "outbox" / "messages").glob(
        f"*-{outbound.provider_sid}.json"
    )
    assert json.loads(path.read_text())["body"] == "Llama al 112 ahora."
    assert path.stat().st_mode & 0o777 == 0o600
