"""`kura verify` against a locally started server (embedded PostgreSQL, offline speech,
a local fake Stripe): green when everything works, red with a reason when it does not."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import HTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.operator_support import Operator
from tests.server_support import server_env, serving
from tests.stripe_support import FakeStripe

TOKEN = "verify-twilio-token-0123456789"
NUMBER = "+34911000000"
OPERATOR = {
    "KURA_VERIFY_OPERATOR_EMAIL": "ops@example.org",
    "KURA_VERIFY_OPERATOR_PASSWORD": "operador-seguro-2026",
}


@pytest.fixture
def fake_stripe() -> Iterator[str]:
    server = HTTPServer(("127.0.0.1", 0), FakeStripe)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def _verify(base: str, *flags: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "kura", "verify", "--base-url", base, *flags],
        env=server_env(**env),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.timeout(360)  # a run may wait for the next 30-s code (each is accepted once)
def test_verify_passes_against_a_working_server_and_fails_with_reasons(
    tmp_path: Path, fake_stripe: str
) -> None:
    data = tmp_path / "kura"
    created = subprocess.run(
        [
            sys.executable,
            "-m",
            "kura",
            "createsuperuser",
            "--email",
            OPERATOR["KURA_VERIFY_OPERATOR_EMAIL"],
            "--full-name",
            "Ops",
        ],
        env=server_env(
            KURA_DATA_DIR=str(data),
            KURA_SUPERUSER_PASSWORD=OPERATOR["KURA_VERIFY_OPERATOR_PASSWORD"],
        ),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert created.returncode == 0, created.stderr
    served_with: dict[str, Any] = {
        "TWILIO_AUTH_TOKEN": TOKEN,
        "TWILIO_WHATSAPP_NUMBER": NUMBER,
        "STRIPE_SECRET_KEY": "sk_test_verify_0123456789",
        "STRIPE_WEBHOOK_SECRET": "whsec_verify",
        "STRIPE_PRICE_ID_PRO": "price_pro",
        "STRIPE_API_BASE": fake_stripe,
    }
    with serving(data, **served_with, PUBLIC_BASE_URL="__BASE__") as base:
        operator = Operator(
            OPERATOR["KURA_VERIFY_OPERATOR_EMAIL"], OPERATOR["KURA_VERIFY_OPERATOR_PASSWORD"]
        )
        operator.headers(base)  # the operator sets up two-step verification first
        without_key = _verify(base, "--json", **OPERATOR)
        monitoring = next(c for c in json.loads(without_key.stdout) if c["name"] == "monitoring")
        assert "KURA_VERIFY_OPERATOR_TOTP_SECRET" in monitoring["detail"]
        signed_in = {**OPERATOR, "KURA_VERIFY_OPERATOR_TOTP_SECRET": operator.secret or ""}
        result = _verify(
            base, "--json", TWILIO_AUTH_TOKEN=TOKEN, TWILIO_WHATSAPP_NUMBER=NUMBER, **signed_in
        )
        checks = json.loads(result.stdout)
        assert result.returncode == 0, checks
        assert [c["name"] for c in checks] == [
            "health",
            "auth",
            "payments",
            "briefing audio",
            "whatsapp",
            "monitoring",
            "cleanup",
        ]
        assert all(c["ok"] for c in checks)
        assert "TEST" in checks[2]["detail"] and "MP3" in checks[3]["detail"]
        live = _verify(
            base,
            "--expect-live",
            TWILIO_AUTH_TOKEN=TOKEN,
            TWILIO_WHATSAPP_NUMBER=NUMBER,
            **signed_in,
        )
        assert live.returncode == 1
        assert "FAIL payments: Stripe is in TEST mode, LIVE expected" in live.stdout
        assert "sk_test" not in live.stdout + live.stderr
        # a laptop without Stripe: the payments check is left out and said so, never passed
        local = _verify(
            base,
            "--skip",
            "payments",
            "--json",
            TWILIO_AUTH_TOKEN=TOKEN,
            TWILIO_WHATSAPP_NUMBER=NUMBER,
            **signed_in,
        )
        assert local.returncode == 0, local.stdout
        payments = next(c for c in json.loads(local.stdout) if c["name"] == "payments")
        assert payments == {
            "name": "payments",
            "ok": False,
            "detail": "not verified (--skip)",
            "skipped": True,
        }
        text = _verify(base, "--skip", "payments", "--skip", "whatsapp", "--skip", "monitoring")
        assert "SKIP payments" in text.stdout and "PASS health" in text.stdout
        for bad in (["--skip", "health"], ["--skip", "payments", "--expect-live"]):
            refused = _verify(base, *bad)
            assert refused.returncode == 2 and refused.stderr.startswith("error:"), refused
    down = _verify(base)
    assert down.returncode == 1 and "FAIL health" in down.stdout
