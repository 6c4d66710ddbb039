"""Forgot/reset password: same answer for everyone, a job sends the link, the link is single-use."""

from __future__ import annotations

import email
import email.policy
import json
import re
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import pytest
from asgi_lifespan import LifespanManager
from httpx import ASGITransport, AsyncClient
from pydantic import SecretStr
from sqlalchemy import text
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from kura.app import create_app
from kura.auth.password_links import deliver_password_link
from kura.config import Settings, load_settings
from kura.db.engine import Database
from kura.db.migrate import upgrade_heads
from kura.db.urls import describe
from kura.jobs.queue import job_queue
from kura.jobs.worker import job_context
from kura.notify.email import BrevoEmailSender, Email, EmailDeliveryError
from kura.users.models import User
from tests.factories import Member

NEW_PASSWORD = "otra-clave-bastante-larga-8"


async def _link_jobs(connection: AsyncConnection) -> list[str]:
    rows = await connection.execute(
        text(
            "SELECT args->>'token_id' FROM procrastinate_jobs "
            "WHERE task_name = 'auth:send_password_link' ORDER BY id"
        )
    )
    return [row[0] for row in rows]


def _newest_mail_to(outbox: Path, address: str) -> email.message.Message:
    for path in sorted(outbox.glob("*.eml"), key=lambda p: p.stat().st_mtime_ns, reverse=True):
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        if message["To"] == address:
            return message
    raise AssertionError(f"no mail to {address} in {outbox}")


def _token_from(message: email.message.Message) -> str:
    body = message.get_payload(decode=True)
    assert isinstance(body, bytes)
    match = re.search(r"token=([\w.-]+)", body.decode())
    assert match, body
    return match.group(1)


async def _request_and_deliver(
    client: AsyncClient,
    database: Database,
    settings: Settings,
    connection: AsyncConnection,
    address: str,
) -> str:
    before = await _link_jobs(connection)
    response = await client.post("/api/v1/auth/forgot-password", json={"email": address})
    assert response.status_code == 200
    new = [t for t in await _link_jobs(connection) if t not in before]
    assert len(new) == 1
    # The job's body, run here on the test's transaction (the worker is tested elsewhere).
    assert await deliver_password_link(database, settings, uuid.UUID(new[0]))
    return _token_from(_newest_mail_to(settings.kura_data_dir / "outbox" / "email", address))


async def test_unknown_and_known_emails_get_the_same_answer(
    client: AsyncClient, owner: Member, connection: AsyncConnection
) -> None:
    known = await client.post("/api/v1/auth/forgot-password", json={"email": owner.user.email})
    jobs_after_known = await _link_jobs(connection)
    unknown = await client.post(
        "/api/v1/auth/forgot-password", json={"email": "nobody@example.org"}
    )
    assert known.status_code == unknown.status_code == 200
    assert known.json() == unknown.json()
    assert await _link_jobs(connection) == jobs_after_known  # nothing queued for nobody


async def test_reset_link_works_once_and_ends_every_session(
    client: AsyncClient,
    owner: Member,
    database: Database,
    settings: Settings,
    connection: AsyncConnection,
    session: AsyncSession,
) -> None:
    token = await _request_and_deliver(client, database, settings, connection, owner.user.email)
    stored = await session.scalar(text("SELECT token_hash FROM password_token LIMIT 1"))
    assert token not in str(stored)
    reset = await client.post(
        "/api/v1/auth/reset-password", json={"token": token, "new_password": NEW_PASSWORD}
    )
    assert reset.status_code == 200, reset.text
    assert (await client.get("/api/v1/auth/me", headers=owner.headers)).status_code == 401
    login = await client.post(
        "/api/v1/auth/login", json={"email": owner.user.email, "password": NEW_PASSWORD}
    )
    assert login.status_code == 200
    again = await client.post(
        "/api/v1/auth/reset-password", json={"token": token, "new_password": "third-password-99"}
    )
    assert again.status_code == 400


async def test_expired_tampered_and_superseded_links_are_refused(
    client: AsyncClient,
    owner: Member,
    database: Database,
    settings: Settings,
    connection: AsyncConnection,
) -> None:
    first = await _request_and_deliver(client, database, settings, connection, owner.user.email)
    second = await _request_and_deliver(client, database, settings, connection, owner.user.email)
    body = {"new_password": NEW_PASSWORD}
    superseded = await client.post("/api/v1/auth/reset-password", json={**body, "token": first})
    assert superseded.status_code == 400
    tampered = second[:-4] + ("0000" if not second.endswith("0000") else "1111")
    bad = await client.post("/api/v1/auth/reset-password", json={**body, "token": tampered})
    assert bad.status_code == 400
    garbage = await client.post(
        "/api/v1/auth/reset-password", json={**body, "token": "not-a-token-at-all"}
    )
    assert garbage.status_code == 400
    await connection.execute(text("UPDATE password_token SET expires_at = now() - interval '1s'"))
    expired = await client.post("/api/v1/auth/reset-password", json={**body, "token": second})
    assert expired.status_code == 400
    assert "expired" in expired.json()["detail"]


async def test_weak_new_password_keeps_the_link_usable(
    client: AsyncClient,
    owner: Member,
    database: Database,
    settings: Settings,
    connection: AsyncConnection,
) -> None:
    token = await _request_and_deliver(client, database, settings, connection, owner.user.email)
    weak = await client.post(
        "/api/v1/auth/reset-password", json={"token": token, "new_password": "password123"}
    )
    assert weak.status_code == 400
    ok = await client.post(
        "/api/v1/auth/reset-password", json={"token": token, "new_password": NEW_PASSWORD}
    )
    assert ok.status_code == 200


async def test_email_language_follows_the_user(
    client: AsyncClient,
    owner: Member,
    database: Database,
    settings: Settings,
    connection: AsyncConnection,
    session: AsyncSession,
) -> None:
    await _request_and_deliver(client, database, settings, connection, owner.user.email)
    outbox = settings.kura_data_dir / "outbox" / "email"
    assert "contraseña" in str(_newest_mail_to(outbox, owner.user.email)["Subject"])
    user = await session.get_one(User, owner.user.id)
    user.locale = "en"
    await session.flush()
    await _request_and_deliver(client, database, settings, connection, owner.user.email)
    assert "Reset your" in str(_newest_mail_to(outbox, owner.user.email)["Subject"])


class _FakeBrevo(BaseHTTPRequestHandler):
    calls: list[tuple[str, dict[str, str], dict[str, Any]]] = []
    status = 201

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.calls.append((self.path, dict(self.headers), body))
        self.send_response(self.status)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(b'{"messageId": "<1@brevo>"}')

    def log_message(self, *args: object) -> None:
        return None


@pytest.fixture
def fake_brevo() -> Iterator[str]:
    _FakeBrevo.calls = []
    _FakeBrevo.status = 201
    server = HTTPServer(("127.0.0.1", 0), _FakeBrevo)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v3"
    server.shutdown()


async def test_brevo_sender_posts_the_transactional_api(fake_brevo: str) -> None:
    sender = BrevoEmailSender(
        api_key="xkeysib-test", base_url=fake_brevo, sender_email="no@k.ai", sender_name="KURA"
    )
    await sender.send(Email(to="ana@example.org", subject="Hola", text="Cuerpo"))
    path, headers, body = _FakeBrevo.calls[0]
    assert path == "/v3/smtp/email"
    assert headers["api-key"] == "xkeysib-test"
    assert body["to"] == [{"email": "ana@example.org"}]
    assert body["subject"] == "Hola" and body["textContent"] == "Cuerpo"
    _FakeBrevo.status = 500
    with pytest.raises(EmailDeliveryError) as caught:
        await sender.send(Email(to="ana@example.org", subject="Hola", text="Cuerpo"))
    assert "xkeysib" not in str(caught.value)


async def test_the_job_sends_through_brevo_when_configured(
    fake_brevo: str,
    client: AsyncClient,
    owner: Member,
    database: Database,
    settings: Settings,
    connection: AsyncConnection,
) -> None:
    await client.post("/api/v1/auth/forgot-password", json={"email": owner.user.email})
    token_id = (await _link_jobs(connection))[-1]
    brevo_settings = settings.model_copy(
        update={"brevo_api_key": SecretStr("xkeysib-test"), "brevo_api_url": fake_brevo}
    )
    assert await deliver_password_link(database, brevo_settings, uuid.UUID(token_id))
    assert _FakeBrevo.calls[-1][2]["to"] == [{"email": owner.user.email}]
    assert "token=" in _FakeBrevo.calls[-1][2]["textContent"]


async def test_end_to_end_a_real_worker_delivers_the_reset_email(
    empty_db: URL, tmp_path: Path
) -> None:
    """Committed request -> queued job -> worker -> .eml in the outbox (own database)."""
    upgrade_heads(empty_db)
    settings = load_settings(
        environment="test",
        database_url=describe(empty_db, show_password=True),
        kura_data_dir=tmp_path,
        kura_run_worker=False,
    )
    database = Database.connect(empty_db)
    app = create_app(settings, database=database)
    async with (
        LifespanManager(app),
        AsyncClient(transport=ASGITransport(app), base_url="http://test") as client,
    ):
        registered = await client.post(
            "/api/v1/auth/register",
            json={
                "email": "eva@example.org",
                "password": "una-clave-muy-larga-42",
                "full_name": "Eva",
                "org_name": "Consulta Eva",
            },
        )
        assert registered.status_code == 201
        await client.post("/api/v1/auth/forgot-password", json={"email": "eva@example.org"})
        async with job_queue(empty_db) as queue:
            await queue.run_worker_async(
                wait=False,
                install_signal_handlers=False,
                listen_notify=False,
                additional_context=job_context(database, settings),
            )
        token = _token_from(_newest_mail_to(tmp_path / "outbox" / "email", "eva@example.org"))
        reset = await client.post(
            "/api/v1/auth/reset-password", json={"token": token, "new_password": NEW_PASSWORD}
        )
        assert reset.status_code == 200
    await database.dispose()
