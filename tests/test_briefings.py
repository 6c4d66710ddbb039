"""The daily briefing: offline by default with real MP3 audio, providers through local fakes,
cached per user and day, audio served only to its owner."""

from __future__ import annotations

import io
import json
import threading
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import pytest
from asgi_lifespan import LifespanManager
from httpx import ASGITransport, AsyncClient
from mutagen.mp3 import MP3
from pydantic import SecretStr
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from kura.app import create_app
from kura.briefings.models import DailyBriefing
from kura.briefings.morning import prepare_morning_briefings
from kura.briefings.speech import WORDS_PER_MINUTE, espeak_mp3
from kura.config import Settings
from kura.db.engine import Database
from kura.monitoring.models import RiskAlert
from kura.users.models import Role, User
from tests.factories import Member, make_owner, make_patient, make_staff

URL = "/api/v1/insights/daily-briefing"


def mp3_seconds(data: bytes) -> float:
    """Duration from the MP3 frames themselves (mutagen decodes the stream's headers)."""
    return float(MP3(io.BytesIO(data)).info.length)  # type: ignore[no-untyped-call, attr-defined]  # mutagen is untyped


async def _brief(client: AsyncClient, member: Member, **params: str) -> dict[str, Any]:
    response = await client.get(URL, headers=member.headers, params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_offline_briefing_in_spanish_with_real_mp3(
    client: AsyncClient, owner: Member
) -> None:
    body = await _brief(client, owner)
    assert body["language"] == "es" and body["cached"] is False
    assert body["text_script"].startswith(f"Buenos días, {owner.user.full_name.split()[0]}. Hoy es")
    assert "No tienes citas" in body["text_script"]
    assert body["generation_method"] == {"script": "template", "audio": "espeak"}
    audio = await client.get(body["audio_url"], headers=owner.headers)
    assert audio.status_code == 200 and audio.headers["content-type"] == "audio/mpeg"
    assert "no-store" in audio.headers["cache-control"]
    seconds = mp3_seconds(audio.content)
    words = len(body["text_script"].split())
    expected = words / WORDS_PER_MINUTE * 60
    assert 0.6 * expected < seconds < 1.6 * expected, (seconds, expected)


async def test_cached_per_user_and_day_until_refreshed(client: AsyncClient, owner: Member) -> None:
    first = await _brief(client, owner)
    again = await _brief(client, owner)
    assert again["cached"] is True and again["generated_at"] == first["generated_at"]
    fresh = await _brief(client, owner, refresh="true")
    assert fresh["cached"] is False and fresh["generated_at"] != first["generated_at"]


async def test_english_users_get_english(
    client: AsyncClient, owner: Member, session: AsyncSession
) -> None:
    (await session.get_one(User, owner.user.id)).locale = "en"
    await session.flush()
    body = await _brief(client, owner)
    assert body["language"] == "en" and body["text_script"].startswith("Good morning")


async def test_risks_come_first_with_names_only_for_clinicians(
    client: AsyncClient, owner: Member, session: AsyncSession, settings: Settings
) -> None:
    patient = await make_patient(session, owner.organization, full_name="Lucía Romero")
    session.add(
        RiskAlert(
            organization_id=owner.organization.id,
            patient_id=patient.id,
            source="screen",
            level=2,
            risk="HIGH",
            flags=["suicidal_ideation"],
        )
    )
    await session.flush()
    clinician = (await _brief(client, owner))["text_script"]
    assert "Lucía Romero" in clinician
    assert clinician.index("alertas de riesgo") < clinician.index("citas")
    assistant = await make_staff(session, settings, owner.organization, Role.ASSISTANT)
    plain = (await _brief(client, assistant))["text_script"]
    assert "Lucía" not in plain and "Hay una alerta de riesgo pendiente;" in plain


async def test_audio_is_served_only_to_its_owner(
    client: AsyncClient, owner: Member, session: AsyncSession, settings: Settings
) -> None:
    body = await _brief(client, owner)
    assert (await client.get(body["audio_url"])).status_code == 401
    colleague = await make_staff(session, settings, owner.organization, Role.THERAPIST)
    stranger = await make_owner(session, settings)
    for member in (colleague, stranger):
        assert (await client.get(body["audio_url"], headers=member.headers)).status_code == 404
    # And it is not a static file anywhere under the app.
    assert (await client.get(f"/static/briefings/{body['day']}.mp3")).status_code == 404


class _Fake(BaseHTTPRequestHandler):
    gemini_text = ""
    fail = False
    calls: list[str] = []
    bodies: list[bytes] = []

    def do_POST(self) -> None:
        self.bodies.append(self.rfile.read(int(self.headers["Content-Length"])))
        self.calls.append(self.path)
        if self.fail:
            self.send_response(500)
            self.send_header("Content-Type", "application/json")
            body = b'{"error": {"code": 500, "message": "down", "status": "INTERNAL"}}'
        elif "generateContent" in self.path:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            part = {"text": self.gemini_text}
            body = json.dumps(
                {
                    "candidates": [
                        {"content": {"role": "model", "parts": [part]}, "finishReason": "STOP"}
                    ]
                }
            ).encode()
        else:  # OpenAI /v1/audio/speech
            self.send_response(200)
            self.send_header("Content-Type", "audio/mpeg")
            body = espeak_mp3("Buenos días desde el proveedor.", "es")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        return None


@pytest.fixture
def providers(settings: Settings) -> Iterator[Settings]:
    _Fake.calls, _Fake.bodies, _Fake.fail = [], [], False
    _Fake.gemini_text = (
        "Buenos días. Hoy es jueves y tu agenda está despejada; aprovecha para preparar las "
        "sesiones de mañana."
    )
    server = HTTPServer(("127.0.0.1", 0), _Fake)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    yield settings.model_copy(
        update={
            "google_api_key": SecretStr("gemini-key"),
            "gemini_base_url": base,
            "openai_api_key": SecretStr("sk-openai"),
            "openai_base_url": f"{base}/v1",
        }
    )
    server.shutdown()


@pytest.fixture
async def provider_client(providers: Settings, database: Database) -> AsyncIterator[AsyncClient]:
    app = create_app(providers, database=database)
    async with (
        LifespanManager(app),
        AsyncClient(transport=ASGITransport(app), base_url="http://test") as client,
    ):
        yield client


async def test_with_keys_gemini_writes_and_openai_speaks(
    provider_client: AsyncClient, owner: Member
) -> None:
    body = await _brief(provider_client, owner)
    assert body["generation_method"] == {"script": "gemini", "audio": "openai-tts"}
    assert body["text_script"] == _Fake.gemini_text
    assert any("generateContent" in c for c in _Fake.calls)
    assert "/v1/audio/speech" in _Fake.calls
    audio = await provider_client.get(body["audio_url"], headers=owner.headers)
    assert mp3_seconds(audio.content) > 0.5


async def _alert_for(session: AsyncSession, owner: Member, full_name: str) -> None:
    patient = await make_patient(session, owner.organization, full_name=full_name)
    session.add(
        RiskAlert(
            organization_id=owner.organization.id,
            patient_id=patient.id,
            source="screen",
            level=2,
            risk="HIGH",
            flags=["suicidal_ideation"],
        )
    )
    await session.flush()


async def test_gemini_sees_placeholders_and_the_briefing_speaks_the_real_names(
    provider_client: AsyncClient, owner: Member, session: AsyncSession
) -> None:
    await _alert_for(session, owner, "Lucía Romero Peña")
    await _alert_for(session, owner, "José Ángel Núñez")
    # The handler answers as a model would with the placeholders it was given: the staff
    # member is [PERSONA_1], the patients [PACIENTE_n] in the order of their alerts.
    _Fake.gemini_text = (
        "Buenos días, [PERSONA_1]. Lo primero: hay alertas de riesgo sin revisar de "
        "[PACIENTE_1] y de [PACIENTE_2]; revísalas antes de empezar. No tienes citas hoy."
    )
    body = await _brief(provider_client, owner)
    assert body["generation_method"]["script"] == "gemini"
    script = body["text_script"]
    assert "Lucía Romero Peña" in script and "José Ángel Núñez" in script
    assert script.startswith("Buenos días, Owner.") and "[PACIENTE" not in script
    sent = [b.decode() for b in _Fake.bodies]
    prompt = next(b for b, path in zip(sent, _Fake.calls, strict=True) if "generateContent" in path)
    told = json.loads(prompt)["contents"][0]["parts"][0]["text"]
    for secret in ("Lucía", "Lucia", "Romero", "Peña", "José", "Ángel", "Núñez", "Owner"):
        assert secret not in told, secret
    assert "[PACIENTE_1]" in told and "[PACIENTE_2]" in told and "[PERSONA_1]" in told
    # The restored words are what is spoken: the speech request carries the real names.
    speech = next(b for b, path in zip(sent, _Fake.calls, strict=True) if "speech" in path)
    assert "Lucía Romero Peña" in json.loads(speech)["input"]


async def test_a_script_that_leaves_out_a_patient_at_risk_is_not_used(
    provider_client: AsyncClient, owner: Member, session: AsyncSession
) -> None:
    await _alert_for(session, owner, "Lucía Romero")
    _Fake.gemini_text = "Buenos días, [PERSONA_1]. Hoy tienes el día tranquilo y sin citas."
    body = await _brief(provider_client, owner)
    assert body["generation_method"]["script"] == "template (gemini failed)"
    assert "Lucía Romero" in body["text_script"]


async def test_failing_providers_fall_back_and_say_so(
    provider_client: AsyncClient, owner: Member
) -> None:
    _Fake.fail = True
    body = await _brief(provider_client, owner)
    assert body["generation_method"] == {
        "script": "template (gemini failed)",
        "audio": "espeak (openai failed)",
    }
    assert body["audio_url"] is not None


async def test_audio_failure_keeps_the_text_and_retries_later_not_per_request(
    settings: Settings,
    database: Database,
    owner: Member,
    connection: AsyncConnection,
    tmp_path: Any,
) -> None:
    blocked = tmp_path / "data"
    blocked.mkdir()
    (blocked / "briefings").write_text("a file where the audio directory should be")
    broken = settings.model_copy(update={"kura_data_dir": blocked})
    app = create_app(broken, database=database)
    async with (
        LifespanManager(app),
        AsyncClient(transport=ASGITransport(app), base_url="http://test") as client,
    ):
        body = await _brief(client, owner)
        assert body["audio_url"] is None and body["text_script"]
        again = await _brief(client, owner)
        assert again["cached"] is True
    row = (
        await connection.execute(select(DailyBriefing.audio_status, DailyBriefing.audio_attempts))
    ).one()
    assert row == ("failed", 1)  # the cached answer did not try again
    jobs = await connection.execute(
        text(
            "SELECT count(*) FROM procrastinate_jobs "
            "WHERE task_name = 'briefings:retry_briefing_audio'"
        )
    )
    assert jobs.scalar_one() == 1


async def test_morning_job_prepares_briefings_for_practices_at_seven(
    session: AsyncSession, database: Database, settings: Settings, owner: Member
) -> None:
    await make_staff(session, settings, owner.organization, Role.THERAPIST)
    seven_in_madrid = datetime(2026, 11, 26, 6, 30, tzinfo=UTC)  # 07:30 CET
    result = await prepare_morning_briefings(database, settings, seven_in_madrid)
    assert result["failed"] == 0 and result["made"] >= 2
    made = await session.scalar(select(DailyBriefing).where(DailyBriefing.user_id == owner.user.id))
    assert made is not None and made.audio_status == "done"
    again = await prepare_morning_briefings(database, settings, seven_in_madrid)
    assert again["made"] == 0  # once per user and day
    noon = await prepare_morning_briefings(
        database, settings, datetime(2026, 11, 26, 11, 0, tzinfo=UTC)
    )
    assert noon["due"] == 0


@pytest.mark.parametrize(
    ("language", "one", "two"),
    [
        ("es", "Tienes una cita hoy, a las 09:30.", "Tienes 2 citas hoy, la primera a las 09:30."),
        (
            "en",
            "You have one appointment today, at 09:30.",
            "You have 2 appointments today, the first at 09:30.",
        ),
    ],
)
def test_the_agenda_line_agrees_in_number(language: str, one: str, two: str) -> None:
    from datetime import date, time

    from kura.briefings.content import BriefingFacts
    from kura.briefings.script import template_script

    def script(count: int) -> str:
        facts = BriefingFacts(
            day=date(2026, 12, 2),
            language=language,
            first_name="Ana",
            clinical=True,
            appointments=count,
            first_appointment=time(9, 30),
        )
        return template_script(facts)

    assert one in script(1) and "1 citas" not in script(1)
    assert two in script(2)
