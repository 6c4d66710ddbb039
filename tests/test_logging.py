"""Logs: JSON for Cloud Logging, request ids and traces, and never a secret."""

from __future__ import annotations

import io
import json
import secrets
from pathlib import Path
from typing import Any

from asgi_lifespan import LifespanManager
from fastapi import APIRouter
from httpx import ASGITransport, AsyncClient
from sqlalchemy.engine import URL

from kura.app import create_app
from kura.config import load_settings
from kura.db.engine import Database
from kura.db.urls import describe
from kura.logging import configure_logging, get_logger

SENTINELS = {
    "secret_key": "SENTINEL-secret-key-0123456789abcdef0123",
    "db_password": "SENTINEL-db-password",
    "stripe_secret_key": "sk_live_SENTINELstripe",
    "stripe_webhook_secret": "whsec_SENTINELwebhook",
    "twilio_auth_token": "SENTINEL-twilio-token",
    "openai_api_key": "sk-SENTINELopenai",
    "google_api_key": "SENTINEL-google-key",
    "google_client_secret": "SENTINEL-google-secret",
    "brevo_api_key": "xkeysib-SENTINELbrevo",
}
TRACE = "105445aa7843bc8bf206b12000100000"

leaky = APIRouter()


@leaky.get("/leak")
async def leak() -> None:
    settings = load_settings(**SENTINELS)
    get_logger("test.leak").info("leaking", token=SENTINELS["twilio_auth_token"])
    raise RuntimeError(
        f"failed with key {settings.stripe_secret_key} and {SENTINELS['openai_api_key']}"
    )


async def _run_requests(db_url: URL, tmp_path: Path) -> list[dict[str, Any]]:
    password_url = db_url.set(password=SENTINELS["db_password"])
    settings = load_settings(
        environment="test",
        log_format="json",
        google_cloud_project="kura-os",
        kura_data_dir=tmp_path,
        kura_run_worker=False,
        database_url=describe(password_url, show_password=True),
        **SENTINELS,
    )
    stream = io.StringIO()
    database = Database.connect(db_url)
    app = create_app(settings, database=database)
    configure_logging(settings, stream=stream)
    app.include_router(leaky)
    async with (
        LifespanManager(app),
        AsyncClient(transport=ASGITransport(app), base_url="http://test") as client,
    ):
        failed = await client.get("/leak", headers={"X-Cloud-Trace-Context": f"{TRACE}/1;o=1"})
        assert failed.status_code == 500
        assert (await client.get("/health/ready")).status_code == 200
    await database.dispose()
    return [json.loads(line) for line in stream.getvalue().splitlines()]


async def test_no_secret_reaches_any_log_line(db_url: URL, tmp_path: Path) -> None:
    lines = await _run_requests(db_url, tmp_path)
    text = json.dumps(lines)
    assert "leaking" in text and "RuntimeError" in text  # the failure was logged...
    for value in SENTINELS.values():
        assert value not in text  # ...without any secret


async def test_json_lines_carry_severity_message_trace_and_request_id(
    db_url: URL, tmp_path: Path
) -> None:
    lines = await _run_requests(db_url, tmp_path)
    error = next(line for line in lines if line["message"] == "request.unhandled_error")
    assert error["severity"] == "ERROR"
    assert error["logging.googleapis.com/trace"] == f"projects/kura-os/traces/{TRACE}"
    access = [line for line in lines if line["message"] == "request"]
    assert {(a["method"], a["path"], a["status"]) for a in access} == {
        ("GET", "/leak", 500),
        ("GET", "/health/ready", 200),
    }
    assert all(isinstance(a["duration_ms"], float) and a["request_id"] for a in access)
    leak_lines = [line for line in lines if line.get("path") == "/leak"]
    assert len({line["request_id"] for line in leak_lines}) == 1


async def test_console_tracebacks_do_not_print_local_variables(db_url: URL, tmp_path: Path) -> None:
    settings = load_settings(
        environment="development", log_format="console", kura_data_dir=tmp_path
    )
    stream = io.StringIO()
    configure_logging(settings, stream=stream)
    bearer = "Bearer " + secrets.token_hex(16)  # built at run time: not in the source context
    try:
        headers = {"authorization": bearer}
        raise RuntimeError(f"failed for {len(headers)} header")
    except RuntimeError:
        get_logger("test.console").exception("console.failure")
    output = stream.getvalue()
    assert "console.failure" in output and "RuntimeError" in output
    assert bearer not in output
