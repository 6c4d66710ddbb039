"""Alerts by email, the conversation analysis (offline, Gemini via a local fake, Gemini
failing), and the clinical read endpoints."""

from __future__ import annotations

import email
import email.policy
import json
import threading
from collections.abc import Iterator
from datetime import date
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from httpx import AsyncClient
from pydantic import SecretStr
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kura.audit.models import AuditEvent
from kura.config import Settings, load_settings
from kura.db.base import utcnow
from kura.db.engine import Database
from kura.errors import ConfigError
from kura.monitoring.analysis import run_analysis
from kura.monitoring.models import DailyConversationAnalysis, MessageLog, RiskAlert
from kura.monitoring.notify import send_alert_emails
from kura.monitoring.service import Inbound, handle_inbound, local_day
from kura.users.models import Role
from tests.factories import Member, make_owner, make_patient, make_staff, make_superuser

PHONE = "+34612000111"
SHARED = "+34911000000"


async def _inbound(session: AsyncSession, settings: Settings, body: str, n: int) -> Any:
    return await handle_inbound(
        session,
        settings,
        Inbound(sid=f"SMtest{n:026d}", from_number=PHONE, to_number="+34911000000", body=body),
    )


@pytest.fixture
async def monitored(session: AsyncSession, owner: Member, settings: Settings) -> Any:
    therapist = await make_staff(session, settings, owner.organization, Role.THERAPIST)
    patient = await make_patient(
        session,
        owner.organization,
        phone=PHONE,
        monitoring_consent=True,
        assigned_therapist_id=therapist.user.id,
    )
    return patient, therapist


async def test_alert_emails_reach_therapist_and_owner_without_clinical_text(
    session: AsyncSession, database: Database, settings: Settings, owner: Member, monitored: Any
) -> None:
    patient, therapist = monitored
    outcome = await _inbound(
        session, settings, "Quiero morirme, ya he escrito la carta de despedida", 1
    )
    assert outcome.alert_id is not None
    sent = await send_alert_emails(database, settings, outcome.alert_id)
    assert sent == 2
    outbox = settings.kura_data_dir / "outbox" / "email"
    mails = [
        email.message_from_bytes(p.read_bytes(), policy=email.policy.default)
        for p in outbox.glob("*.eml")
    ]
    # Other tests share this outbox (some mails are multipart): read each one's text part.
    parts = [(m, m.get_body(preferencelist=("plain",))) for m in mails]
    bodies = [(m, part.get_content()) for m, part in parts if part is not None]
    mine = [(m, body) for m, body in bodies if str(outcome.alert_id) in body]
    assert {m["To"] for m, _ in mine} == {owner.user.email, therapist.user.email}
    for mail, content in mine:
        assert "carta" not in content and patient.full_name not in content
        assert "CRITICAL" in str(mail["Subject"])


async def test_offline_analysis_keeps_the_risk_and_says_how_it_was_made(
    session: AsyncSession, database: Database, settings: Settings, monitored: Any
) -> None:
    patient, _ = monitored
    await _inbound(session, settings, "Hoy estoy mejor, gracias", 1)
    await _inbound(session, settings, "Pero por la noche pienso en quitarme la vida", 2)
    day = local_day(utcnow(), "Europe/Madrid")
    analysis = await run_analysis(database, settings, patient.id, day)
    assert analysis is not None
    assert analysis.generation_method == "offline-rules"
    assert analysis.message_count == 2
    assert "suicidal_ideation" in analysis.risk_flags
    assert analysis.sentiment_score <= -0.5
    assert "Contactar" in analysis.suggestion
    # Re-running updates the same day's row.
    await _inbound(session, settings, "Sigo aquí", 3)
    again = await run_analysis(database, settings, patient.id, day)
    assert again is not None and again.id == analysis.id and again.message_count == 3
    audited = await session.scalar(select(AuditEvent).where(AuditEvent.action == "ai.analysis_run"))
    assert audited is not None and audited.details["method"] == "offline-rules"


class _FakeGemini(BaseHTTPRequestHandler):
    answer: dict[str, Any] = {}
    status = 200
    calls: list[dict[str, Any]] = []

    def do_POST(self) -> None:
        raw = self.rfile.read(int(self.headers["Content-Length"]))
        if self.path == "/token":  # google-auth's service-account token exchange (RFC 7523)
            self._token()
            return
        body = json.loads(raw)
        self.calls.append(
            {
                "path": self.path,
                "key": self.headers.get("x-goog-api-key"),
                "authorization": self.headers.get("Authorization"),
                "body": body,
            }
        )
        payload = {
            "candidates": [
                {
                    "content": {"role": "model", "parts": [{"text": json.dumps(self.answer)}]},
                    "finishReason": "STOP",
                }
            ]
        }
        data = json.dumps(
            payload
            if self.status == 200
            else {"error": {"code": self.status, "message": "boom", "status": "INTERNAL"}}
        ).encode()
        self.send_response(self.status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _token(self) -> None:
        # The shape google.oauth2._client reads: access_token and expires_in.
        data = json.dumps({"access_token": "ya29.fake-token", "expires_in": 3600}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        return None


@pytest.fixture
def gemini(settings: Settings) -> Iterator[Settings]:
    _FakeGemini.calls = []
    _FakeGemini.status = 200
    server = HTTPServer(("127.0.0.1", 0), _FakeGemini)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield settings.model_copy(
        update={
            "google_api_key": SecretStr("gemini-test-key"),
            "gemini_base_url": f"http://127.0.0.1:{server.server_address[1]}",
        }
    )
    server.shutdown()


async def test_gemini_may_raise_the_risk_but_never_lower_it(
    session: AsyncSession, database: Database, gemini: Settings, monitored: Any
) -> None:
    patient, _ = monitored
    _FakeGemini.answer = {
        "summary": "La paciente describe desesperanza creciente.",
        "sentiment_score": 0.4,
        "emotional_state": "Abatida",
        "risk_flags": ["hopelessness"],
        "suggestion": "Llamar hoy.",
    }
    await _inbound(session, gemini, "Pienso en suicidarme a veces", 1)
    analysis = await run_analysis(
        database, gemini, patient.id, local_day(utcnow(), "Europe/Madrid")
    )
    assert analysis is not None and analysis.generation_method == "gemini"
    assert set(analysis.risk_flags) == {"hopelessness", "suicidal_ideation"}  # united
    assert analysis.sentiment_score < 0  # the rules' lower score wins when they found risk
    call = _FakeGemini.calls[0]
    assert ":generateContent" in call["path"] and call["key"] == "gemini-test-key"
    alerts = list(await session.scalars(select(RiskAlert).order_by(RiskAlert.created_at)))
    assert [a.source for a in alerts] == ["screen", "analysis"]  # Gemini's new flag alerts too
    assert alerts[1].flags == ["hopelessness"]


def _sent_text(call: dict[str, Any]) -> str:
    return str(call["body"]["contents"][0]["parts"][0]["text"])


async def test_gemini_gets_pseudonymized_messages_and_the_stored_analysis_is_restored(
    session: AsyncSession, database: Database, gemini: Settings, owner: Member
) -> None:
    therapist = await make_staff(session, gemini, owner.organization, Role.THERAPIST)
    patient = await make_patient(
        session,
        owner.organization,
        full_name="Rosa María Etxeberria",
        phone=PHONE,
        email="rosa.etx@example.org",
        monitoring_consent=True,
        assigned_therapist_id=therapist.user.id,
    )
    await _inbound(
        session,
        gemini,
        f"Hola, soy rosa maría. {therapist.user.full_name} ya lo sabe. Llámame al 699 123 456 "
        "o escribe a rosa.etx@example.org; vivo en la calle Mayor 12 de Bilbao. Hoy me regalaron "
        "una rosa y aun así pienso en suicidarme a veces.",
        1,
    )
    _FakeGemini.answer = {
        "summary": "[PACIENTE_1] vive en [LUGAR_1] y pide que la llamen al [TELEFONO_2]; "
        "menciona a [PERSONA_7].",
        "sentiment_score": -0.6,
        "emotional_state": "Abatida",
        "risk_flags": ["suicidal_ideation"],
        "suggestion": "Llamar hoy a [PACIENTE_1].",
    }
    analysis = await run_analysis(
        database, gemini, patient.id, local_day(utcnow(), "Europe/Madrid")
    )
    assert analysis is not None and analysis.generation_method == "gemini"
    sent = _sent_text(_FakeGemini.calls[0])
    leaks = ("Rosa", "rosa maría", "María", "Etxeberria", "699", "123 456", "rosa.etx")
    for leaked in (*leaks, "example.org", "Mayor", "Bilbao", therapist.user.full_name):
        assert leaked not in sent, leaked
    assert "[PACIENTE_1]" in sent and "una rosa" in sent  # the flower is not the patient
    assert analysis.summary.startswith(
        "Rosa María Etxeberria vive en Bilbao y pide que la llamen al 699 123 456; "
        "menciona a [PERSONA_7]."  # never issued: left as the model wrote it
    )
    assert analysis.suggestion == "Llamar hoy a Rosa María Etxeberria."


async def test_vertex_ai_takes_the_same_path_with_project_region_and_credentials(
    session: AsyncSession,
    database: Database,
    gemini: Settings,
    monitored: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    patient, _ = monitored
    base = str(gemini.gemini_base_url)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    # A service-account key file as `gcloud iam service-accounts keys create` writes it, with the
    # token endpoint pointed at the fake: Application Default Credentials end to end.
    account = tmp_path / "service-account.json"
    account.write_text(
        json.dumps(
            {
                "type": "service_account",
                "project_id": "kura-test",
                "private_key_id": "0" * 40,
                "private_key": pem,
                "client_email": "kura@kura-test.iam.gserviceaccount.com",
                "client_id": "1",
                "token_uri": f"{base}/token",
            }
        )
    )
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(account))
    monkeypatch.delenv("GOOGLE_API_KEY", raising=False)
    vertex = gemini.model_copy(
        update={
            "google_api_key": None,
            "google_genai_use_vertexai": True,
            "google_cloud_project": "kura-test",
            "google_cloud_location": "europe-west1",
        }
    )
    _FakeGemini.answer = {
        "summary": "Sin novedad.",
        "sentiment_score": 0.1,
        "emotional_state": "Estable",
        "risk_flags": [],
        "suggestion": "Sin acción necesaria.",
    }
    await _inbound(session, vertex, "Hoy he dormido mejor", 1)
    analysis = await run_analysis(
        database, vertex, patient.id, local_day(utcnow(), "Europe/Madrid")
    )
    assert analysis is not None and analysis.generation_method == "gemini"
    call = _FakeGemini.calls[0]
    assert call["path"] == (
        "/v1beta1/projects/kura-test/locations/europe-west1/publishers/google/models/"
        f"{vertex.gemini_model}:generateContent"
    )
    assert call["authorization"] == "Bearer ya29.fake-token" and call["key"] is None


def test_vertex_without_a_project_is_a_clear_configuration_error() -> None:
    with pytest.raises(ConfigError, match="GOOGLE_CLOUD_PROJECT is not set"):
        load_settings(google_genai_use_vertexai=True, google_cloud_project=None)
    settings = load_settings(google_genai_use_vertexai=True, google_cloud_project="kura-test")
    assert settings.uses_gemini and settings.google_cloud_location == "europe-west1"


async def test_a_failing_provider_falls_back_and_never_stores_no_risk(
    session: AsyncSession, database: Database, gemini: Settings, monitored: Any
) -> None:
    patient, _ = monitored
    _FakeGemini.status = 500
    await _inbound(session, gemini, "Tengo un plan para matarme", 1)
    analysis = await run_analysis(
        database, gemini, patient.id, local_day(utcnow(), "Europe/Madrid")
    )
    assert analysis is not None
    assert analysis.generation_method == "offline-rules (gemini failed)"
    assert "plan" in analysis.risk_flags
    assert len(_FakeGemini.calls) == 2  # retried once


async def test_clinical_reads_are_for_clinicians_and_audited(
    client: AsyncClient, session: AsyncSession, settings: Settings, owner: Member, monitored: Any
) -> None:
    patient, therapist = monitored
    outcome = await _inbound(session, settings, "Quiero morirme", 1)
    assistant = await make_staff(session, settings, owner.organization, Role.ASSISTANT)
    messages_url = f"/api/v1/patients/{patient.id}/monitoring/messages?days=7"
    listed = await client.get(messages_url, headers=therapist.headers)
    assert listed.status_code == 200
    bodies = [m["body"] for m in listed.json()["items"]]
    assert "Quiero morirme" in bodies and len(bodies) == 2  # the message and the safety reply
    assert (await client.get(messages_url, headers=assistant.headers)).status_code == 403
    assert (
        await client.get(
            f"/api/v1/patients/{patient.id}/monitoring/messages?days=31", headers=therapist.headers
        )
    ).status_code == 422
    analyses = await client.get(
        f"/api/v1/patients/{patient.id}/monitoring/analyses", headers=therapist.headers
    )
    assert analyses.status_code == 200
    alerts = (
        await client.get("/api/v1/monitoring/risk-alerts?hours=168", headers=therapist.headers)
    ).json()
    assert [a["id"] for a in alerts["items"]] == [str(outcome.alert_id)]
    assert (
        await client.get("/api/v1/monitoring/risk-alerts?hours=169", headers=therapist.headers)
    ).status_code == 422
    ack = await client.post(
        f"/api/v1/monitoring/risk-alerts/{outcome.alert_id}/acknowledge", headers=therapist.headers
    )
    assert ack.status_code == 200
    assert ack.json()["acknowledged_by_id"] == str(therapist.user.id)
    still_listed = (
        await client.get("/api/v1/monitoring/risk-alerts", headers=owner.headers)
    ).json()
    assert still_listed["items"][0]["acknowledged_at"] is not None  # acknowledged, never deleted
    actions = set(
        await session.scalars(
            select(AuditEvent.action).where(AuditEvent.actor_id == therapist.user.id)
        )
    )
    assert {
        "monitoring.messages_viewed",
        "monitoring.analyses_viewed",
        "monitoring.alert_acknowledged",
    } <= actions


async def test_a_practice_sets_its_texts_but_only_an_operator_assigns_its_number(
    app: FastAPI, client: AsyncClient, owner: Member, session: AsyncSession, settings: Settings
) -> None:
    app.state.settings = settings.model_copy(update={"twilio_whatsapp_number": SHARED})
    response = await client.patch(
        "/api/v1/monitoring/settings",
        headers=owner.headers,
        json={"crisis_resources": "Mi móvil de guardia: 600 000 000."},
    )
    assert response.status_code == 200 and response.json()["whatsapp_number"] is None
    # A practice cannot choose a number (it could take over the shared one or another's).
    grab = await client.patch(
        "/api/v1/monitoring/settings", headers=owner.headers, json={"whatsapp_number": SHARED}
    )
    assert grab.status_code == 422
    therapist = await make_staff(session, settings, owner.organization, Role.THERAPIST)
    assert (
        await client.get("/api/v1/monitoring/settings", headers=therapist.headers)
    ).status_code == 403
    path = f"/api/v1/admin/organizations/{owner.organization.id}"
    assert (
        await client.patch(path, headers=owner.headers, json={"whatsapp_number": "911222333"})
    ).status_code == 403
    operator = await make_owner(session, settings)
    await make_superuser(session, settings, operator)
    assigned = await client.patch(
        path, headers=operator.headers, json={"whatsapp_number": "911 222 333"}
    )
    assert assigned.status_code == 200 and assigned.json()["whatsapp_number"] == "+34911222333"
    shared = await client.patch(path, headers=operator.headers, json={"whatsapp_number": SHARED})
    assert shared.status_code == 409 and "shared" in shared.json()["detail"]
    other = await make_owner(session, settings)
    taken = await client.patch(
        f"/api/v1/admin/organizations/{other.organization.id}",
        headers=operator.headers,
        json={"whatsapp_number": "+34911222333"},
    )
    assert taken.status_code == 409
    bad = await client.patch(path, headers=operator.headers, json={"whatsapp_number": "12"})
    assert bad.status_code == 422
    audited = await session.scalar(
        select(AuditEvent).where(AuditEvent.action == "organization.whatsapp_number_assigned")
    )
    assert audited is not None


async def test_analysis_ignores_patients_without_consent(
    session: AsyncSession, database: Database, settings: Settings, owner: Member
) -> None:
    patient = await make_patient(session, owner.organization, monitoring_consent=False)
    assert await run_analysis(database, settings, patient.id, date.today()) is None
    assert await session.scalar(select(DailyConversationAnalysis)) is None
    assert await session.scalar(select(MessageLog)) is None


async def test_a_days_analyses_only_add_flags_never_contradict_and_never_repeat_alerts(
    session: AsyncSession, database: Database, gemini: Settings, monitored: Any
) -> None:
    patient, _ = monitored
    day = local_day(utcnow(), "Europe/Madrid")
    _FakeGemini.answer = {
        "summary": "Todo estable.",
        "sentiment_score": 0.6,
        "emotional_state": "Estable",
        "risk_flags": ["Ideación Suicida", "riesgo_inventado"],
        "suggestion": "Sin acción necesaria.",
    }
    await _inbound(session, gemini, "Hoy he ido a caminar con mi hermana", 1)
    first = await run_analysis(database, gemini, patient.id, day)
    assert first is not None
    # Unknown names are mapped or kept as `other`, never dropped; words agree with the flags.
    assert set(first.risk_flags) == {"suicidal_ideation", "other"}
    assert first.emotional_state == "En riesgo" and "Sin acción" not in first.suggestion
    assert first.sentiment_score <= -0.5 and "suicidal_ideation" in first.summary
    alerts = list(await session.scalars(select(RiskAlert).where(RiskAlert.source == "analysis")))
    assert len(alerts) == 1 and set(alerts[0].flags) == {"suicidal_ideation", "other"}
    # A later run that finds nothing keeps the day's flags; the same flags alert only once.
    _FakeGemini.answer = {**_FakeGemini.answer, "risk_flags": []}
    await _inbound(session, gemini, "Ya en casa, cenando", 2)
    second = await run_analysis(database, gemini, patient.id, day)
    assert second is not None and set(second.risk_flags) >= {"suicidal_ideation", "other"}
    _FakeGemini.answer = {**_FakeGemini.answer, "risk_flags": ["suicidal_ideation"]}
    await run_analysis(database, gemini, patient.id, day)
    again = list(await session.scalars(select(RiskAlert).where(RiskAlert.source == "analysis")))
    assert len(again) == 1


async def test_open_alerts_never_age_out_of_the_list(
    client: AsyncClient, session: AsyncSession, owner: Member, monitored: Any
) -> None:
    from datetime import timedelta

    patient, _ = monitored
    old = RiskAlert(
        organization_id=owner.organization.id,
        patient_id=patient.id,
        source="screen",
        risk="CRITICAL",
        created_at=utcnow() - timedelta(days=20),
    )
    seen = RiskAlert(
        organization_id=owner.organization.id,
        patient_id=patient.id,
        source="screen",
        risk="HIGH",
        acknowledged_at=utcnow(),
    )
    session.add_all([old, seen])
    await session.flush()
    recent = await client.get("/api/v1/monitoring/risk-alerts", headers=owner.headers)
    assert [a["id"] for a in recent.json()["items"]] == [str(seen.id)]
    opened = await client.get("/api/v1/monitoring/risk-alerts?status=open", headers=owner.headers)
    assert [a["id"] for a in opened.json()["items"]] == [str(old.id)]
    bad = await client.get("/api/v1/monitoring/risk-alerts?status=closed", headers=owner.headers)
    assert bad.status_code == 422
