"""HTTP-level attacks: control characters, oversized and stalled bodies, headers, docs, outages."""

from __future__ import annotations

import asyncio
import io
import json
from collections.abc import AsyncIterator
from pathlib import Path

from asgi_lifespan import LifespanManager
from httpx import ASGITransport, AsyncClient
from sqlalchemy.engine import URL

from kura.app import create_app
from kura.config import Settings, load_settings
from kura.db.engine import Database
from kura.db.urls import describe
from kura.logging import configure_logging
from tests.factories import Member, make_patient


async def test_control_characters_are_refused_with_422_in_every_body(
    client: AsyncClient, owner: Member, session: object
) -> None:
    patient_body = {"full_name": "Ana\x00 Gómez"}
    created = await client.post("/api/v1/patients", headers=owner.headers, json=patient_body)
    assert created.status_code == 422
    assert "control characters" in created.json()["detail"]
    # CR/LF in a name would reach an email subject: one line only.
    staff = {"email": "x@example.org", "full_name": "Eve\r\nBcc: all@example.org"}
    invited = await client.post("/api/v1/staff", headers=owner.headers, json=staff)
    assert invited.status_code == 422
    # Multi-line text keeps its newlines; only the controls are refused.
    login = await client.post(
        "/api/v1/auth/login", json={"email": "a@example.org", "password": "pass\x00word-long"}
    )
    assert login.status_code == 422


async def test_a_note_keeps_newlines_but_not_nul(
    client: AsyncClient, owner: Member, session: object
) -> None:
    from sqlalchemy.ext.asyncio import AsyncSession

    assert isinstance(session, AsyncSession)
    patient = await make_patient(session, owner.organization)
    url = f"/api/v1/patients/{patient.id}/notes"
    bad = await client.post(url, headers=owner.headers, json={"content": "Sesión\x00 uno"})
    assert bad.status_code == 422
    good = await client.post(url, headers=owner.headers, json={"content": "Línea 1\nLínea 2\t!"})
    assert good.status_code == 201 and good.json()["content"] == "Línea 1\nLínea 2\t!"


async def test_control_characters_in_the_url_are_a_400_not_a_500(
    client: AsyncClient, owner: Member
) -> None:
    response = await client.get("/api/v1/patients?q=ana%00", headers=owner.headers)
    assert response.status_code == 400
    assert response.json()["error"] == "bad_request"


async def test_an_oversized_body_is_refused_before_it_is_read(client: AsyncClient) -> None:
    big = b'{"email": "a@example.org", "password": "' + b"x" * (2 * 1024 * 1024) + b'"}'
    response = await client.post(
        "/api/v1/auth/login", content=big, headers={"content-type": "application/json"}
    )
    assert response.status_code == 413
    assert response.json()["error"] == "payload_too_large"


async def test_an_oversized_chunked_body_is_cut_off(client: AsyncClient) -> None:
    sent = 0

    async def chunks() -> AsyncIterator[bytes]:
        nonlocal sent
        yield b'{"email": "a@example.org", "password": "'
        for _ in range(64):  # 4 MiB in 64 KiB chunks, no Content-Length
            sent += 1
            yield b"x" * 65536

    response = await client.post(
        "/api/v1/auth/login", content=chunks(), headers={"content-type": "application/json"}
    )
    assert response.status_code == 413


async def test_a_stalled_body_is_answered_408(settings: Settings, database: Database) -> None:
    app = create_app(
        settings.model_copy(update={"request_body_timeout_seconds": 0.2}), database=database
    )

    async def slow() -> AsyncIterator[bytes]:
        yield b'{"email": "a@'
        await asyncio.sleep(2)
        yield b'example.org"}'

    async with (
        LifespanManager(app) as manager,
        AsyncClient(transport=ASGITransport(manager.app), base_url="http://test") as client,
    ):
        response = await client.post(
            "/api/v1/auth/forgot-password",
            content=slow(),
            headers={"content-type": "application/json"},
        )
    assert response.status_code == 408


async def test_api_answers_are_not_cached_or_sniffed(client: AsyncClient, owner: Member) -> None:
    response = await client.get("/api/v1/auth/me", headers=owner.headers)
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert "strict-transport-security" not in response.headers  # development: plain http


async def test_production_sends_hsts_and_hides_docs(tmp_path: Path) -> None:
    production = load_settings(
        environment="production",
        database_url="postgresql://kura:pw@127.0.0.1:1/kura",
        secret_key="k" * 40,
        kura_data_dir=tmp_path,
    )
    app = create_app(production)  # no lifespan: these answers need no database
    async with AsyncClient(transport=ASGITransport(app), base_url="http://test") as client:
        missing = await client.get("/api/v1/nothing-here")
        assert missing.headers["strict-transport-security"].startswith("max-age=")
        assert (await client.get("/docs")).status_code == 404
        assert (await client.get("/api/v1/openapi.json")).status_code == 404
    enabled = create_app(production.model_copy(update={"api_docs": True}))
    async with AsyncClient(transport=ASGITransport(enabled), base_url="http://test") as client:
        assert (await client.get("/docs")).status_code == 200


async def test_swagger_ui_loads_nothing_from_a_cdn(client: AsyncClient) -> None:
    page = await client.get("/docs")
    assert page.status_code == 200
    assert "cdn.jsdelivr" not in page.text and "unpkg" not in page.text
    assert "/docs/assets/swagger-ui-bundle.js" in page.text
    script = await client.get("/docs/assets/swagger-ui-bundle.js")
    assert script.status_code == 200 and len(script.content) > 100_000


async def test_a_database_outage_is_a_503_logged_once(tmp_path: Path, db_url: URL) -> None:
    dead = db_url.set(host="127.0.0.1", port=1)  # nothing listens on port 1
    settings = load_settings(
        environment="test",
        log_format="json",
        database_url=describe(dead, show_password=True),
        kura_data_dir=tmp_path,
        kura_run_worker=False,
    )
    database = Database.connect(dead)
    app = create_app(settings, database=database)
    stream = io.StringIO()
    configure_logging(settings, stream=stream)
    async with (
        LifespanManager(app),
        AsyncClient(transport=ASGITransport(app), base_url="http://test") as client,
    ):
        answers = [
            await client.post(
                "/api/v1/auth/login", json={"email": "a@example.org", "password": "x" * 12}
            )
            for _ in range(5)
        ]
    await database.dispose()
    assert {a.status_code for a in answers} == {503}
    assert answers[0].json()["error"] == "database_unavailable"
    assert answers[0].headers["retry-after"] == "5"
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    logged = [line for line in lines if line["message"] == "request.database_unavailable"]
    assert len(logged) == 1  # once per outage, not once per request
    assert not [line for line in lines if line["message"] == "request.unhandled_error"]


async def test_the_host_header_is_never_reflected_into_a_redirect(
    client: AsyncClient, owner: Member
) -> None:
    response = await client.get(
        "/api/v1/patients/", headers={**owner.headers, "Host": "evil.example"}
    )
    assert response.status_code == 404
    assert "evil.example" not in response.headers.get("location", "")
