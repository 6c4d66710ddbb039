"""Liveness under a login burst: /health latency while 20 clients log in at once.

Password hashing (Argon2, ~50 ms of CPU each) runs in a bounded thread pool; before, it ran
on the event loop and a burst of logins delayed every other request. Baseline: /health p99
on the same idle server, measured in the same run.
"""

from __future__ import annotations

import statistics
import threading
import time

import httpx

from bench.load import bench_server
from kura.auth.passwords import HASHING_CONCURRENCY, HASHING_NICENESS

LOGIN_CLIENTS = 20
SAMPLES = 300
GOAL = 2.0  # p99 under the burst at most 2x the idle p99


def _health_latencies(base: str) -> list[float]:
    latencies = []
    with httpx.Client(base_url=base, timeout=30) as client:
        for _ in range(SAMPLES):
            start = time.perf_counter()
            client.get("/health")
            latencies.append((time.perf_counter() - start) * 1000)
            time.sleep(0.005)
    return latencies


def _p99(values: list[float]) -> float:
    return statistics.quantiles(values, n=100)[98]


def measure() -> list[str]:
    with bench_server() as base:
        email, password = "burst@example.org", "long-load-test-secret-1"
        httpx.post(
            f"{base}/api/v1/auth/register",
            json={"email": email, "password": password, "full_name": "B", "org_name": "B"},
        )
        idle = _p99(_health_latencies(base))
        stop = threading.Event()
        logins = [0]

        def log_in() -> None:
            with httpx.Client(base_url=base, timeout=60) as client:
                while not stop.is_set():
                    client.post("/api/v1/auth/login", json={"email": email, "password": password})
                    logins[0] += 1

        threads = [threading.Thread(target=log_in) for _ in range(LOGIN_CLIENTS)]
        for thread in threads:
            thread.start()
        time.sleep(1)  # the burst is under way
        started = time.perf_counter()
        burst = _p99(_health_latencies(base))
        elapsed = time.perf_counter() - started
        stop.set()
        for thread in threads:
            thread.join()
    ratio = burst / idle
    verdict = "met" if ratio <= GOAL else "**missed**"
    return [
        "## Liveness during a login burst",
        "",
        f"`GET /health` p99 over {SAMPLES} sequential requests, idle and while {LOGIN_CLIENTS} "
        f"clients log in continuously ({logins[0]} logins, {logins[0] / max(elapsed, 1):.0f}/s "
        f"during the burst). Hashing runs in {HASHING_CONCURRENCY} thread(s) at niceness "
        f"{HASHING_NICENESS}.",
        "",
        "| idle p99 | p99 during logins | ratio | goal | result |",
        "|---|---|---|---|---|",
        f"| {idle:.1f} ms | {burst:.1f} ms | {ratio:.2f}x | <= {GOAL}x | {verdict} |",
        "",
    ]


if __name__ == "__main__":
    print("\n".join(measure()))
