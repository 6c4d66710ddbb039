"""An unread CRITICAL alert escalates through the real job worker: email and SMS (outbox) to
the owner, once; acknowledged, recent and HIGH alerts do not."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from asgi_lifespan import LifespanManager
from httpx import ASGITransport, AsyncClient
from pydantic import SecretStr
from sqlalchemy.engine import URL

from kura.app import create_app
from kura.config import load_settings
from kura.db.base import utcnow
from kura.db.engine import Database
from kura.db.migrate import upgrade_heads
from kura.db.urls import describe
from kura.jobs.queue import job_queue
from kura.jobs.worker import job_context
from kura.monitoring.models import RiskAlert
from tests.email_support import confirm_email


@pytest.mark.timeout(120)
@pytest.mark.parametrize("sms_fails", [False, True])
async def test_an_unread_critical_alert_escalates_once_by_email_and_sms(
    empty_db: URL, tmp_path: Path, sms_fails: bool
) -> None:
    upgrade_heads(empty_db)
    # With sms_fails, Twilio cannot be reached (nothing listens on port 9): the email still
    # goes, the alert is still marked, and the next alerts are not held back.
    twilio = (
        {
            "twilio_account_sid": "AC" + "0" * 32,
            "twilio_auth_token": SecretStr("token"),
            "twilio_api_base": "http://127.0.0.1:9",
        }
        if sms_fails
        else {}
    )
    settings = load_settings(
        environment="test",
        database_url=describe(empty_db, show_password=True),
        kura_data_dir=tmp_path,
        kura_run_worker=False,
        twilio_sms_number="+34911000999",
        **twilio,
    )
    database = Database.connect(empty_db)
    app = create_app(settings, database=database)
    async with (
        LifespanManager(app),
        AsyncClient(transport=ASGITransport(app), base_url="http://t") as client,
    ):
        registered = await client.post(
            "/api/v1/auth/register",
            json={
                "email": "owner@example.org",
                "password": "long-random-words-77",
                "full_name": "O",
                "org_name": "Consulta",
            },
        )
        await confirm_email(client, database, settings, "owner@example.org")
        auth = {"Authorization": f"Bearer {registered.json()['access_token']}"}
        me = await client.patch("/api/v1/auth/me", headers=auth, json={"phone": "612 000 777"})
        assert me.status_code == 200 and me.json()["user"]["phone"] == "+34612000777"
        patient = await client.post("/api/v1/patients", headers=auth, json={"full_name": "P"})
        organization_id = registered.json()["user"]["organization_id"]
        now = utcnow()
        async with database.sessionmaker() as session, session.begin():
            alerts = {
                name: RiskAlert(
                    organization_id=organization_id,
                    patient_id=patient.json()["id"],
                    source="screen",
                    risk=risk,
                    created_at=now - timedelta(minutes=age),
                    acknowledged_at=now if name == "seen" else None,
                )
                for name, risk, age in (
                    ("overdue", "CRITICAL", 20),
                    ("seen", "CRITICAL", 30),
                    ("recent", "CRITICAL", 5),
                    ("high", "HIGH", 60),
                )
            }
            session.add_all(alerts.values())
        ids = {name: str(alert.id) for name, alert in alerts.items()}

        async def run_worker_once() -> None:
            async with job_queue(empty_db) as queue:
                task = queue.configure_task("monitoring:escalate_unread_alerts")
                await task.defer_async(timestamp=int(now.timestamp()))
                await queue.run_worker_async(
                    wait=False,
                    install_signal_handlers=False,
                    listen_notify=False,
                    additional_context=job_context(database, settings),
                )

        await run_worker_once()
        listed = await client.get("/api/v1/monitoring/risk-alerts?status=open", headers=auth)
        escalated = {a["id"] for a in listed.json()["items"] if a["escalated_at"]}
        assert escalated == {ids["overdue"]}
        emails = list((tmp_path / "outbox" / "email").glob("*.eml"))
        assert any("sin leer" in p.read_text() for p in emails)
        texts = [json.loads(p.read_text()) for p in (tmp_path / "outbox" / "messages").glob("*")]
        expected = [] if sms_fails else [("sms", "+34612000777", "+34911000999")]
        assert [(t["channel"], t["to"], t["from_number"]) for t in texts] == expected
        assert all("P" not in t["body"].split() for t in texts)  # no patient name travels
        await run_worker_once()  # once only
        assert len(list((tmp_path / "outbox" / "messages").glob("*"))) == len(expected)
    await database.dispose()
