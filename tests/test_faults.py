"""Fault injection against a real server process: concurrent redeliveries have one effect,
and a database that goes away and comes back is survived without a restart."""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import psycopg
import stripe
from twilio.request_validator import RequestValidator

from kura.db.embedded import EmbeddedPostgres
from kura.db.migrate import upgrade_heads
from kura.db.urls import describe, libpq_conninfo
from tests.email_support import confirm_email_live
from tests.server_support import serving

TOKEN = "faults-twilio-token-0123456789"
WHSEC = "whsec_faults_0123456789"
NUMBER = "+34911000000"


def test_concurrent_redeliveries_have_one_effect(tmp_path: Path) -> None:
    server = EmbeddedPostgres(tmp_path / "db", database="kura_faults")
    url = server.start()
    try:
        upgrade_heads(url)
        env: dict[str, Any] = {
            "DATABASE_URL": describe(url, show_password=True),
            "TWILIO_AUTH_TOKEN": TOKEN,
            "TWILIO_WHATSAPP_NUMBER": NUMBER,
            "PUBLIC_BASE_URL": "__BASE__",
            "STRIPE_SECRET_KEY": "sk_test_faults_0123456789",
            "STRIPE_WEBHOOK_SECRET": WHSEC,
        }
        with serving(tmp_path / "kura", **env) as base:
            token = httpx.post(
                f"{base}/api/v1/auth/register",
                json={
                    "email": "faults@example.org",
                    "password": "long-random-words-77",
                    "full_name": "F",
                    "org_name": "F",
                },
            ).json()["access_token"]
            confirm_email_live(base, tmp_path / "kura", "faults@example.org")
            auth = {"Authorization": f"Bearer {token}"}
            patient = httpx.post(
                f"{base}/api/v1/patients",
                headers=auth,
                json={"full_name": "P", "phone": "+34612999000", "monitoring_consent": True},
            ).json()
            code = httpx.post(
                f"{base}/api/v1/patients/{patient['id']}/monitoring/enrollment", headers=auth
            ).json()["code"]
            path = "/api/v1/webhooks/whatsapp"
            enroll = {
                "MessageSid": "SM" + "6" * 32,
                "From": "whatsapp:+34612999000",
                "To": f"whatsapp:{NUMBER}",
                "Body": code,
                "NumMedia": "0",
            }
            httpx.post(
                f"{base}{path}",
                content=urlencode(enroll),
                headers={
                    "X-Twilio-Signature": RequestValidator(TOKEN).compute_signature(
                        f"{base}{path}", enroll
                    ),
                    "Content-Type": "application/x-www-form-urlencoded",
                },
            ).raise_for_status()
            params = {
                "MessageSid": "SM" + "7" * 32,
                "From": "whatsapp:+34612999000",
                "To": f"whatsapp:{NUMBER}",
                "Body": "quiero morirme",
                "NumMedia": "0",
            }
            signature = RequestValidator(TOKEN).compute_signature(f"{base}{path}", params)
            event = json.dumps(
                {
                    "id": "evt_faults_1",
                    "object": "event",
                    "type": "invoice.created",
                    "livemode": False,
                    "created": int(time.time()),
                    "data": {"object": {"id": "in_1", "object": "invoice"}},
                }
            )

            def twilio(_: int) -> int:
                return httpx.post(
                    f"{base}{path}",
                    content=urlencode(params),
                    timeout=30,
                    headers={
                        "X-Twilio-Signature": signature,
                        "Content-Type": "application/x-www-form-urlencoded",
                    },
                ).status_code

            def stripe_event(_: int) -> int:
                header = stripe.WebhookSignature.generate_signature_header(event, WHSEC)
                return httpx.post(
                    f"{base}/api/v1/payments/webhook",
                    content=event,
                    timeout=30,
                    headers={"Stripe-Signature": header},
                ).status_code

            with ThreadPoolExecutor(max_workers=20) as pool:
                assert set(pool.map(twilio, range(20))) == {200}
                assert set(pool.map(stripe_event, range(20))) == {200}
        with psycopg.connect(libpq_conninfo(url)) as conn:
            inbound = conn.execute(
                "SELECT count(*) FROM message_log WHERE provider_sid = %s", (params["MessageSid"],)
            ).fetchone()
            alerts = conn.execute("SELECT count(*) FROM risk_alert").fetchone()
            events = conn.execute("SELECT count(*) FROM stripe_event").fetchone()
        assert inbound == (1,) and alerts == (1,) and events == (1,)
    finally:
        server.stop()


def _outbox(data_dir: Path, to: str) -> list[Path]:
    return [p for p in (data_dir / "outbox" / "email").glob("*.eml") if to in p.read_text()]


def _wait_for_emails(data_dir: Path, to: str, count: int, *, within: float = 30) -> None:
    deadline = time.monotonic() + within
    while len(_outbox(data_dir, to)) < count:
        assert time.monotonic() < deadline, f"the job queue did not deliver email {count} to {to}"
        time.sleep(0.2)


def test_the_database_goes_away_and_comes_back(tmp_path: Path) -> None:
    """Readiness says 503 meanwhile; afterwards the pool reconnects and the in-process worker
    (which procrastinate stops when its listener loses the database) runs jobs again, once."""
    server = EmbeddedPostgres(tmp_path / "db", database="kura_outage")
    url = server.start()
    upgrade_heads(url)
    data_dir = tmp_path / "kura"
    with serving(data_dir, strict=False, DATABASE_URL=describe(url, show_password=True)) as base:
        assert httpx.get(f"{base}/health/ready").status_code == 200
        server.stop()  # the test held the only handle: PostgreSQL shuts down
        down = httpx.get(f"{base}/health/ready", timeout=10)
        assert down.status_code == 503 and down.json()["checks"]["database"] == "unreachable"
        assert httpx.get(f"{base}/health").status_code == 200  # liveness is not readiness
        server.start()
        deadline = time.monotonic() + 20
        while httpx.get(f"{base}/health/ready", timeout=10).status_code != 200:
            assert time.monotonic() < deadline, "did not recover"
            time.sleep(0.5)
        register = httpx.post(
            f"{base}/api/v1/auth/register",
            json={
                "email": "back@example.org",
                "password": "long-random-words-77",
                "full_name": "B",
                "org_name": "B",
            },
        )
        assert register.status_code == 201  # the pool reconnected without a restart
        # Jobs deferred after the outage (verification, then reset email) run exactly once.
        forgot = httpx.post(
            f"{base}/api/v1/auth/forgot-password", json={"email": "back@example.org"}
        )
        assert forgot.status_code == 200
        _wait_for_emails(data_dir, "back@example.org", 2)
        time.sleep(2)  # a second delivery would show up here
        assert len(_outbox(data_dir, "back@example.org")) == 2
    server.stop()
