"""The signed WhatsApp webhook under load against a bare endpoint that only verifies the
Twilio signature (same server, same run); the first wave's labelled sets."""

from __future__ import annotations

import json
import random
import re
import statistics
import subprocess
import tempfile
from pathlib import Path
from urllib.parse import urlencode

import httpx
from twilio.request_validator import RequestValidator

from bench.accounts import confirm_email
from bench.load import bench_server_with_url
from kura.aletheia.screen import screen_message

CORPUS = Path(__file__).resolve().parent.parent / "tests" / "data"
TOKEN = "bench-twilio-token-0123456789abcdef"
PUBLIC = "https://api.bench.kura"
SHARED = "+34911000000"
PHONE = "+34612000999"
REQUESTS = 20_000
SECONDS = 5
ROUNDS = 3


def _bodies() -> list[str]:
    """Three ordinary messages for every message of the labelled corpus (40% crisis)."""
    from kura.aletheia.training.corpus import load_corpus, split

    development, _ = split(load_corpus())
    corpus = [r.text for r in random.Random(7).sample(development, 500)]
    ordinary = [
        "Hola, hoy he dormido mejor y la respiración me ayuda",
        "¿Podemos mover la sesión al jueves?",
        "ok gracias!!",
    ]
    return [text for c in corpus for text in (*ordinary, c)]


def corpus_rates() -> list[str]:
    rows = []
    for name, label in (
        ("screen_corpus.jsonl", "main corpus"),
        ("screen_heldout.jsonl", "second set"),
    ):
        data = [json.loads(line) for line in (CORPUS / name).read_text().splitlines()]
        pos = [d for d in data if d["high"]]
        neg = [d for d in data if not d["high"]]
        hit = sum(screen_message(d["text"]).needs_alert for d in pos)
        alarm = sum(screen_message(d["text"]).needs_alert for d in neg)
        rows.append(
            f"| {label} | {len(pos)} / {len(neg)} | {hit / len(pos):.2f} | {alarm / len(neg):.2f} |"
        )
    return rows


def _lua(path: str, requests: list[tuple[str, str]]) -> str:
    entries = ",\n".join(f'{{{json.dumps(body)}, "{sig}"}}' for body, sig in requests)
    return f"""
local requests = {{
{entries}
}}
local i = 0
request = function()
  i = i % #requests + 1
  local r = requests[i]
  return wrk.format("POST", "{path}", {{
    ["Content-Type"] = "application/x-www-form-urlencoded",
    ["X-Twilio-Signature"] = r[2],
  }}, r[1])
end
done = function(summary, latency, requests)
  io.write(string.format("P95_US=%d\\n", latency:percentile(95)))
end
"""


def _signed(path: str, start: int, bodies: list[str] | None = None) -> list[tuple[str, str]]:
    validator = RequestValidator(TOKEN)
    out = []
    for n in range(start, start + REQUESTS):
        params = {
            "MessageSid": f"SM{n:032d}",
            "From": f"whatsapp:{PHONE}",
            "To": f"whatsapp:{SHARED}",
            "Body": bodies[n % len(bodies)] if bodies else "Hola, hoy he dormido mejor",
            "NumMedia": "0",
        }
        out.append((urlencode(params), validator.compute_signature(f"{PUBLIC}{path}", params)))
    return out


def _p95(
    base: str, path: str, requests: list[tuple[str, str]], scripts: Path
) -> tuple[float, float]:
    script = scripts / f"{path.strip('/').replace('/', '_')}.lua"
    script.write_text(_lua(path, requests))
    out = subprocess.run(
        ["wrk", "-t1", "-c8", f"-d{SECONDS}s", "-s", str(script), f"{base}{path}"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    if "Non-2xx" in out:
        raise RuntimeError(out)
    p95 = re.search(r"P95_US=(\d+)", out)
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    assert p95 and rps, out
    return int(p95.group(1)) / 1000, float(rps.group(1))


def measure() -> list[str]:
    bodies = _bodies()
    env = {
        "TWILIO_AUTH_TOKEN": TOKEN,
        "PUBLIC_BASE_URL": PUBLIC,
        "TWILIO_WHATSAPP_NUMBER": SHARED,
        "MONITORING_ACK_WINDOW_HOURS": "12",
    }
    ratios, ours_p95, bare_p95, ours_rps = [], [], [], []
    with (
        bench_server_with_url(**env) as (base, url, _data, _pid),
        tempfile.TemporaryDirectory() as tmp,
    ):
        token = httpx.post(
            f"{base}/api/v1/auth/register",
            json={
                "email": "wa@example.org",
                "password": "long-load-test-secret-1",
                "full_name": "WA",
                "org_name": "WA",
            },
        ).json()["access_token"]
        confirm_email(url, "wa@example.org")
        auth = {"Authorization": f"Bearer {token}"}
        patient = httpx.post(
            f"{base}/api/v1/patients",
            headers=auth,
            json={"full_name": "Paciente", "phone": PHONE, "monitoring_consent": True},
        ).json()
        code = httpx.post(
            f"{base}/api/v1/patients/{patient['id']}/monitoring/enrollment", headers=auth
        ).json()["code"]
        enroll = {
            "MessageSid": "SM" + "9" * 32,
            "From": f"whatsapp:{PHONE}",
            "To": f"whatsapp:{SHARED}",
            "Body": code,
        }
        httpx.post(
            f"{base}/api/v1/webhooks/whatsapp",
            data=enroll,
            headers={
                "X-Twilio-Signature": RequestValidator(TOKEN).compute_signature(
                    f"{PUBLIC}/api/v1/webhooks/whatsapp", enroll
                )
            },
        ).raise_for_status()
        for n in range(ROUNDS):
            ours = _p95(
                base,
                "/api/v1/webhooks/whatsapp",
                _signed("/api/v1/webhooks/whatsapp", n * REQUESTS, bodies),
                Path(tmp),
            )
            bare = _p95(base, "/bench/bare-webhook", _signed("/bench/bare-webhook", 0), Path(tmp))
            ours_p95.append(ours[0])
            bare_p95.append(bare[0])
            ours_rps.append(ours[1])
            ratios.append(ours[0] / bare[0])
    median = statistics.median(ratios)
    return [
        "## WhatsApp monitoring",
        "",
        f"Webhook: wrk, 8 connections, {SECONDS} s, {ROUNDS} rounds; every request a new "
        "validly signed message from a consenting patient (stored, screened with the "
        "classifier and the conversation, acknowledged once or answered with the safety "
        "reply and an alert, analysis queued) vs a bare endpoint that reads the form and "
        "checks the signature. Bodies: three ordinary messages for each message of the "
        "labelled corpus (40% of those are crises), so about one request in ten alerts.",
        "",
        "| what | ours p95 | bare p95 | ratio (spread) | goal | result |",
        "|---|---|---|---|---|---|",
        f"| signed webhook p95 | {statistics.median(ours_p95):.1f} ms | "
        f"{statistics.median(bare_p95):.1f} ms | {median:.2f}x "
        f"({min(ratios):.2f}-{max(ratios):.2f}) | <= 1.5x | "
        f"{'met' if median <= 1.5 else '**missed**'} |",
        "",
        f"Throughput of the real webhook: {statistics.median(ours_rps):.0f} messages/s (goal "
        f">= 100: {'met' if statistics.median(ours_rps) >= 100 else '**missed**'}). The first "
        "wave's 329 messages/s (rule screen only, one ordinary body) came from a machine that "
        "served `/health` about 4x faster than the one of this run; the bare endpoint above is "
        "the same-run baseline. What costs: the sentence encoder (about 20-40 ms of both cores "
        "per message it reads, serialised) on the one message in four that is hard.",
        "",
        "Why the webhook misses its goal: the baseline does no database work at all, while",
        "every real message is routed (one query: patient, practice, previous delivery), stored",
        "durably before Twilio gets its 200 (so nothing is lost), answered (one more insert) and",
        "its analysis debounced (one read) — about five round trips and a commit, with wrk,",
        "uvicorn and PostgreSQL sharing two cores. Statements are prebuilt (measured: 188 to",
        "~300 messages/s). Closing the rest would mean acknowledging Twilio before the message",
        "is routed (an inbox table plus a job, with the reply no longer able to depend on the",
        "routing) — a trade this project has not made for messages from people in crisis.",
        "",
        "Screen on the labelled sets (see docs/aletheia.md):",
        "",
        "| set | positives / negatives | recall | false-alarm rate |",
        "|---|---|---|---|",
        *corpus_rates(),
        "",
    ]
