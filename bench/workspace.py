"""The workspace's pages: server time of Today and of a chart with 200 notes, against a bare
endpoint of the same server in the same run, and the weight of a page without images."""

from __future__ import annotations

import re
import statistics
import time
from datetime import UTC, datetime, timedelta

import httpx
import psycopg
from sqlalchemy.engine import URL

from bench.accounts import confirm_email
from bench.app import BARE_HEALTH_PATH
from bench.load import bench_server_with_url
from kura.db.urls import libpq_conninfo

SAMPLES = 100
NOTES = 200
EMAIL, PASSWORD = "workspace@example.org", "long-load-test-secret-1"


def _p(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100)[q - 1]


def _timed(client: httpx.Client, path: str) -> list[float]:
    client.get(path).raise_for_status()  # warm: templates compiled, pool connected
    samples = []
    for _ in range(SAMPLES):
        start = time.perf_counter()
        client.get(path).raise_for_status()
        samples.append((time.perf_counter() - start) * 1000)
    return samples


def _practice(base: str, url: URL) -> tuple[httpx.Client, str]:
    """An owner with a patient of 200 notes, eight sessions today and three open alerts,
    signed in to the workspace; returns the browser-like client and the patient's id."""
    registered = httpx.post(
        f"{base}/api/v1/auth/register",
        json={"email": EMAIL, "password": PASSWORD, "full_name": "Bench", "org_name": "Bench"},
    ).json()
    confirm_email(url, EMAIL)
    api = httpx.Client(
        base_url=base, headers={"Authorization": f"Bearer {registered['access_token']}"}
    )
    patient = api.post("/api/v1/patients", json={"full_name": "Paciente Bench"}).json()["id"]
    service = api.post(
        "/api/v1/services", json={"name": "Sesión", "duration_minutes": 50, "price_cents": 0}
    ).json()["id"]
    # Today's sessions from now on (a past time is fine for the staff API too).
    start = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    for hour in range(8):
        api.post(
            "/api/v1/bookings",
            json={
                "patient_id": patient,
                "service_id": service,
                "starts_at": (start + timedelta(hours=hour)).isoformat(),
            },
        ).raise_for_status()
    with psycopg.connect(libpq_conninfo(url), autocommit=True) as conn:
        organization = registered["organization"]["id"]
        conn.execute(
            "INSERT INTO clinical_note (id, organization_id, patient_id, type, content) "
            "SELECT gen_random_uuid(), %s, %s, 'SESSION_NOTE', repeat('nota de sesión ', 60) "
            "FROM generate_series(1, %s)",
            (organization, patient, NOTES),
        )
        conn.execute(
            "INSERT INTO risk_alert (id, organization_id, patient_id, source, risk, level) "
            "SELECT gen_random_uuid(), %s, %s, 'screen', 'HIGH', 2 FROM generate_series(1, 3)",
            (organization, patient),
        )
        conn.execute("ANALYZE")
    browser = httpx.Client(base_url=base, timeout=60)
    form = browser.get("/app/login").text
    token = re.search(r'name="form_token" value="([^"]+)"', form)
    assert token is not None
    signed_in = browser.post(
        "/app/login",
        data={"email": EMAIL, "password": PASSWORD, "form_token": token.group(1), "next": "/app"},
    )
    assert signed_in.status_code == 303, signed_in.text
    return browser, patient


def measure() -> list[str]:
    with bench_server_with_url() as (base, url, _data, _pid):
        browser, patient = _practice(base, url)
        chart_path = f"/app/patients/{patient}"
        bare = _timed(browser, BARE_HEALTH_PATH)
        today = _timed(browser, "/app")
        chart = _timed(browser, chart_path)
        today_html = browser.get("/app").content
        chart_html = browser.get(chart_path).content
        css = browser.get("/app/static/app.css").content
    floor = _p(bare, 95)
    rows = [
        f"| {name} | {_p(values, 50):.1f} ms | {_p(values, 95):.1f} ms | "
        f"{_p(values, 95) / floor:.0f}x | {'yes' if _p(values, 95) <= 50 else 'NO'} |"
        for name, values in (
            ("Today (8 sessions, 3 open alerts, no briefing yet)", today),
            (f"Chart with {NOTES} notes (a page: the newest 20)", chart),
            ("Bare endpoint of the same server (floor)", bare),
        )
    ]
    weight = len(today_html) + len(css)
    return [
        "## Workspace pages",
        "",
        f"{SAMPLES} sequential GETs each from a signed-in client over loopback (the time includes",
        "HTTP and the session check, the audit row a chart view writes, the template render).",
        "Goal: p95 ≤ 50 ms; the ratio is against a bare ASGI endpoint of the same server.",
        "",
        "| page | p50 | p95 | p95 / floor | ≤ 50 ms |",
        "|---|---|---|---|---|",
        *rows,
        "",
        f"Page weight without images: Today {len(today_html) / 1024:.1f} KB of HTML + "
        f"{len(css) / 1024:.1f} KB of CSS = {weight / 1024:.1f} KB (goal ≤ 100 KB; no "
        f"JavaScript); the chart's HTML is {len(chart_html) / 1024:.1f} KB.",
        "",
    ]


if __name__ == "__main__":
    print("\n".join(measure()))
