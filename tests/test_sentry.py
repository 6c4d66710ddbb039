"""Sentry: initialised only with SENTRY_DSN, reports errors without PII (fake Sentry over HTTP)."""

from __future__ import annotations

import gzip
import io
import threading
import zlib
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest
import sentry_sdk
from asgi_lifespan import LifespanManager
from fastapi import APIRouter
from httpx import ASGITransport, AsyncClient
from pydantic import SecretStr
from sqlalchemy import text
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncConnection

from kura.app import create_app
from kura.config import Settings, load_settings
from kura.db.engine import Database
from kura.logging import configure_logging, configure_sentry
from tests.factories import make_owner, make_patient
from tests.server_support import kura

BEARER = "Bearer SENTINEL-session-token-123456"
failing = APIRouter()


@failing.get("/fail")
async def fail() -> None:
    raise ValueError("sentry-probe-failure")


class _FakeSentry(BaseHTTPRequestHandler):
    received: list[bytes] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        encoding = self.headers.get("Content-Encoding", "")
        if encoding == "gzip":
            body = gzip.decompress(body)
        elif encoding == "deflate":
            body = zlib.decompress(body)
        elif encoding == "br":
            import brotli  # type: ignore[import-not-found]  # only if the SDK picked brotli

            body = brotli.decompress(body)
        self.received.append(body)
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args: object) -> None:
        return None


@pytest.fixture
def fake_sentry() -> Iterator[str]:
    _FakeSentry.received = []
    server = HTTPServer(("127.0.0.1", 0), _FakeSentry)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://publickey@127.0.0.1:{server.server_address[1]}/1"
    server.shutdown()
    sentry_sdk.get_client().close()
    sentry_sdk.init()  # back to a disabled client for the rest of the session


def test_sentry_stays_off_without_a_dsn(tmp_path: Path) -> None:
    assert configure_sentry(load_settings(kura_data_dir=tmp_path)) is False


async def test_errors_reach_sentry_without_pii(
    fake_sentry: str, db_url: URL, tmp_path: Path
) -> None:
    settings = load_settings(
        environment="test", sentry_dsn=fake_sentry, kura_data_dir=tmp_path, kura_run_worker=False
    )
    database = Database.connect(db_url)
    app = create_app(settings, database=database)
    assert sentry_sdk.get_client().is_active()
    app.include_router(failing)
    async with (
        LifespanManager(app),
        AsyncClient(transport=ASGITransport(app), base_url="http://test") as client,
    ):
        response = await client.get(
            "/fail", headers={"Authorization": BEARER, "Cookie": "access_token=SENTINEL-cookie"}
        )
    await database.dispose()
    assert response.status_code == 500
    sentry_sdk.flush(timeout=5)
    payload = b"\n".join(_FakeSentry.received)
    assert b"sentry-probe-failure" in payload
    assert b"SENTINEL" not in payload


async def test_a_database_error_never_carries_the_note_into_logs_or_sentry(
    fake_sentry: str, settings: Settings, connection: AsyncConnection, database: Database
) -> None:
    """The database refuses the row and quotes it back ("Failing row contains (…)")."""
    await connection.execute(
        text(
            "ALTER TABLE clinical_note ADD CONSTRAINT test_refuses_notes "
            "CHECK (content NOT LIKE '%CLINICAL-SECRET%')"
        )
    )
    async with database.sessionmaker() as session:
        owner = await make_owner(session, settings)
        patient = await make_patient(
            session, owner.organization, full_name="Paciente PRIVATE-NAME-7", email="p7@example.org"
        )
        await session.commit()
    sentry_settings = settings.model_copy(
        update={"sentry_dsn": SecretStr(fake_sentry), "log_format": "json"}
    )
    app = create_app(sentry_settings, database=database)
    stream = io.StringIO()
    configure_logging(sentry_settings, stream=stream)
    note = "El paciente refiere CLINICAL-SECRET abuso en la infancia"
    async with (
        LifespanManager(app),
        AsyncClient(transport=ASGITransport(app), base_url="http://test") as client,
    ):
        response = await client.post(
            f"/api/v1/patients/{patient.id}/notes", headers=owner.headers, json={"content": note}
        )
    assert response.status_code == 500
    assert "CLINICAL-SECRET" not in response.text
    sentry_sdk.flush(timeout=5)
    payload = b"\n".join(_FakeSentry.received).decode("utf-8", "replace")
    logs = stream.getvalue()
    assert "test_refuses_notes" in logs and "23514" in logs  # the failure is diagnosable...
    assert "test_refuses_notes" in payload
    for leaked in ("CLINICAL-SECRET", "abuso", "PRIVATE-NAME-7", "p7@example.org"):
        assert leaked not in logs  # ...without the row it refused
        assert leaked not in payload


def test_a_failing_migration_job_reaches_sentry_with_its_release(
    fake_sentry: str, tmp_path: Path
) -> None:
    """`kura migrate` is the deploy's job: its failure is one clean line for the job's log
    and an event in Sentry, tagged with the deployed commit."""
    url = f"postgresql://kura:hunter22@/kura?host={tmp_path}"
    result = kura(
        "migrate",
        DATABASE_URL=url,
        KURA_DATA_DIR=str(tmp_path),
        SENTRY_DSN=fake_sentry,
        KURA_GIT_SHA="c0ffee12",
        ENVIRONMENT="test",
    )
    assert result.returncode == 2 and "error:" in result.stderr
    payload = b"\n".join(_FakeSentry.received)
    assert b'"release":"kura@' in payload.replace(b" ", b"") and b"+c0ffee12" in payload
    assert b'"environment":"test"' in payload.replace(b" ", b"")
    assert b"hunter22" not in payload
