"""AletheIA's screen cost per message, and the signed WhatsApp webhook under load against a
bare endpoint that only verifies the Twilio signature (same server, same run)."""

from __future__ import annotations

import json
import random
import re
import statistics
import subprocess
import tempfile
import time
from pathlib import Path
from urllib.parse import urlencode

import httpx
from twilio.request_validator import RequestValidator

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


def _texts() -> list[str]:
    texts = []
    for name in ("screen_corpus.jsonl", "screen_heldout.jsonl"):
        texts += [json.loads(line)["text"] for line in (CORPUS / name).read_text().splitlines()]
    rng = random.Random(7)
    long = [" ".join(rng.sample(texts, 6)) for _ in range(50)]  # multi-sentence messages
    return texts + long


def screen_cost() -> tuple[float, float, int]:
    texts = _texts()
    for text in texts:
        screen_message(text)  # warm the compiled lexicon
    samples = []
    for _ in range(20):
        for text in texts:
            start = time.perf_counter_ns()
            screen_message(text)
            samples.append((time.perf_counter_ns() - start) / 1e6)
    samples.sort()
    return samples[len(samples) // 2], samples[int(len(samples) * 0.99)], len(texts)


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


def _signed(path: str, start: int) -> list[tuple[str, str]]:
    validator = RequestValidator(TOKEN)
    out = []
    for n in range(start, start + REQUESTS):
        params = {
            "MessageSid": f"SM{n:032d}",
            "From": f"whatsapp:{PHONE}",
            "To": f"whatsapp:{SHARED}",
            "Body": "Hola, hoy he dormido mejor y la respiración me ayuda",
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
    p50, p99, corpus = screen_cost()
    env = {
        "TWILIO_AUTH_TOKEN": TOKEN,
        "PUBLIC_BASE_URL": PUBLIC,
        "TWILIO_WHATSAPP_NUMBER": SHARED,
        "MONITORING_ACK_WINDOW_HOURS": "12",
    }
    ratios, ours_p95, bare_p95, ours_rps = [], [], [], []
    with (
        bench_server_with_url(**env) as (base, _url, _data, _pid),
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
        httpx.post(
            f"{base}/api/v1/patients",
            headers={"Authorization": f"Bearer {token}"},
            json={"full_name": "Paciente", "phone": PHONE, "monitoring_consent": True},
        ).raise_for_status()
        for n in range(ROUNDS):
            ours = _p95(
                base,
                "/api/v1/webhooks/whatsapp",
                _signed("/api/v1/webhooks/whatsapp", n * REQUESTS),
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
        f"Screen: {corpus} bilingual messages (the labelled corpora plus 50 multi-sentence "
        f"ones) x 20 passes, in-process: p50 {p50 * 1000:.0f} µs, **p99 {p99 * 1000:.0f} µs** "
        f"(goal ≤ 1 ms: {'met' if p99 <= 1 else '**missed**'}).",
        "",
        f"Webhook: wrk, 8 connections, {SECONDS} s, {ROUNDS} rounds; every request a new "
        "validly signed message from a consenting patient (stored, screened, acknowledged "
        "once, analysis queued) vs a bare endpoint that reads the form and checks the signature.",
        "",
        "| what | ours p95 | bare p95 | ratio (spread) | goal | result |",
        "|---|---|---|---|---|---|",
        f"| signed webhook p95 | {statistics.median(ours_p95):.1f} ms | "
        f"{statistics.median(bare_p95):.1f} ms | {median:.2f}x "
        f"({min(ratios):.2f}-{max(ratios):.2f}) | <= 1.5x | "
        f"{'met' if median <= 1.5 else '**missed**'} |",
        "",
        f"Throughput of the real webhook: {statistics.median(ours_rps):.0f} messages/s.",
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
