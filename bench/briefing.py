"""Offline speech speed (real-time factor) and the cached briefing endpoint's p95 vs /health."""

from __future__ import annotations

import io
import re
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import httpx
from mutagen.mp3 import MP3

from bench.load import bench_server_with_url
from kura.briefings.speech import espeak_mp3

SCRIPT = (
    "Buenos días, Ana. Hoy es jueves, veintiséis de noviembre. Lo primero: hay alertas de "
    "riesgo sin revisar de Lucía Romero. Revísalas antes de empezar tu jornada. Tienes seis "
    "citas hoy, la primera a las nueve y media. En las últimas veinticuatro horas has ingresado "
    "trescientos veinte euros. Tienes dos asuntos pendientes por revisar. Recuerda dejar unos "
    "minutos entre sesiones para respirar y tomar notas. Que tengas un buen día."
)
SECONDS = 4
ROUNDS = 3


def real_time_factor() -> tuple[float, float, float]:
    espeak_mp3("calentamiento", "es")
    factors, audio_seconds = [], 0.0
    for _ in range(5):
        start = time.perf_counter()
        mp3 = espeak_mp3(SCRIPT, "es")
        spent = time.perf_counter() - start
        audio_seconds = float(MP3(io.BytesIO(mp3)).info.length)  # type: ignore[no-untyped-call, attr-defined]  # mutagen is untyped
        factors.append(audio_seconds / spent)
    return statistics.median(factors), min(factors), audio_seconds


def _p95(url: str, headers: dict[str, str], scripts: Path) -> float:
    lines = [f'wrk.headers["{k}"] = "{v}"' for k, v in headers.items()]
    lines.append(
        'done = function(s, latency, r) io.write(string.format("P95_US=%d\\n", '
        "latency:percentile(95))) end"
    )
    script = scripts / "get.lua"
    script.write_text("\n".join(lines))
    out = subprocess.run(
        ["wrk", "-t1", "-c4", f"-d{SECONDS}s", "-s", str(script), url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    if "Non-2xx" in out:
        raise RuntimeError(out)
    match = re.search(r"P95_US=(\d+)", out)
    assert match, out
    return int(match.group(1)) / 1000


def measure() -> list[str]:
    rtf, worst, audio = real_time_factor()
    ratios, ours, health = [], [], []
    with bench_server_with_url() as (base, _url, _data, _pid), tempfile.TemporaryDirectory() as tmp:
        token = httpx.post(
            f"{base}/api/v1/auth/register",
            json={
                "email": "brief@example.org",
                "password": "long-load-test-secret-1",
                "full_name": "Ana",
                "org_name": "Consulta",
            },
        ).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        httpx.get(f"{base}/api/v1/insights/daily-briefing", headers=headers, timeout=60)
        for _ in range(ROUNDS):
            ours.append(_p95(f"{base}/api/v1/insights/daily-briefing", headers, Path(tmp)))
            health.append(_p95(f"{base}/health", {}, Path(tmp)))
            ratios.append(ours[-1] / health[-1])
    return [
        "## Daily briefing",
        "",
        f"Offline speech (espeak-ng + LAME MP3, Spanish, {audio:.0f} s of audio): real-time "
        f"factor **{rtf:.0f}x** (worst of 5: {worst:.0f}x); goal >= 50x: "
        f"{'met' if rtf >= 50 else '**missed**'}.",
        "",
        f"Cached `GET /api/v1/insights/daily-briefing` p95 {statistics.median(ours):.2f} ms vs "
        f"`/health` p95 {statistics.median(health):.2f} ms (wrk, 4 connections, {ROUNDS} "
        f"rounds): {statistics.median(ratios):.1f}x — the cached answer is an authenticated "
        "request with two reads; `/health` is answered before the framework, so the ratio shows "
        "the cost of auth and the reads (no goal was set for it).",
        "",
    ]
