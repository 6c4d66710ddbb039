"""A job that crashes is retried and not lost: the reset email's first delivery fails at
Brevo (a local fake answering 500), the worker retries it and it arrives."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest
from asgi_lifespan import LifespanManager
from httpx import ASGITransport, AsyncClient
from pydantic import SecretStr
from sqlalchemy import text
from sqlalchemy.engine import URL

from kura.app import create_app
from kura.config import load_settings
from kura.db.engine import Database
from kura.db.migrate import upgrade_heads
from kura.db.urls import describe
from kura.jobs.queue import job_queue
from kura.jobs.worker import job_context


class _FlakyBrevo(BaseHTTPRequestHandler):
    calls = 0

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        type(self).calls += 1
        self.send_response(500 if self.calls == 1 else 201)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args: object) -> None:
        return None


@pytest.fixture
def flaky_brevo() -> Iterator[str]:
    _FlakyBrevo.calls = 0
    server = HTTPServer(("127.0.0.1", 0), _FlakyBrevo)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v3"
    server.shutdown()


@pytest.mark.timeout(120)
async def test_a_failing_job_is_retried_until_it_succeeds(
    empty_db: URL, tmp_path: Path, flaky_brevo: str
) -> None:
    upgrade_heads(empty_db)
    settings = load_settings(
        environment="test",
        database_url=describe(empty_db, show_password=True),
        kura_data_dir=tmp_path,
        kura_run_worker=False,
        brevo_api_key=SecretStr("xkeysib-flaky"),
        brevo_api_url=flaky_brevo,
    )
    database = Database.connect(empty_db)
    app = create_app(settings, database=database)
    async with (
        LifespanManager(app),
        AsyncClient(transport=ASGITransport(app), base_url="http://t") as client,
    ):
        await client.post(
            "/api/v1/auth/register",
            json={
                "email": "retry@example.org",
                "password": "long-random-words-77",
                "full_name": "R",
                "org_name": "R",
            },
        )
        # Registration queued one email job: the verification link, which Brevo refuses once.

    async def work_once() -> None:
        async with job_queue(empty_db) as queue:
            await queue.run_worker_async(
                wait=False,
                install_signal_handlers=False,
                listen_notify=False,
                additional_context=job_context(database, settings),
            )

    await work_once()
    assert _FlakyBrevo.calls == 1
    async with database.engine.connect() as conn:
        status = (
            await conn.execute(
                text(
                    "SELECT status, attempts FROM procrastinate_jobs "
                    "WHERE task_name = 'auth:send_password_link'"
                )
            )
        ).one()
    assert status == ("todo", 1)  # scheduled again, not lost
    await asyncio.sleep(6)  # the retry strategy waits 5 s before the second attempt
    await work_once()
    assert _FlakyBrevo.calls == 2
    async with database.engine.connect() as conn:
        final = (
            await conn.execute(
                text(
                    "SELECT status FROM procrastinate_jobs "
                    "WHERE task_name = 'auth:send_password_link'"
                )
            )
        ).scalar_one()
    assert final == "succeeded"
    await database.dispose()
