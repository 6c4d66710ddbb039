"""The model card: blind-split and cross-validation metrics for rules, classifier and both."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from kura.aletheia.classifier import CrisisClassifier
from kura.aletheia.rules import screen_rules
from kura.aletheia.screen import screen_text
from kura.aletheia.training.corpus import Row
from kura.aletheia.training.metrics import Rate, false_alarms, recall, threshold_at

Detector = Callable[[str], bool]


def _rates(flags: Sequence[bool], rows: Sequence[Row]) -> tuple[Rate, Rate]:
    labels = [r.crisis for r in rows]
    return recall(flags, labels), false_alarms(flags, labels)


def _group_lines(
    flags: Sequence[bool], rows: Sequence[Row], key: Callable[[Row], str]
) -> list[str]:
    lines = []
    for group in sorted({key(r) for r in rows}):
        index = [i for i, r in enumerate(rows) if key(r) == group]
        hit, alarm = _rates([flags[i] for i in index], [rows[i] for i in index])
        lines.append(f"| {group} | {hit.show()} | {alarm.show()} |")
    return lines


def blind_report(
    model: CrisisClassifier, blind: Sequence[Row], extra: dict[str, Detector]
) -> tuple[str, dict[str, Any]]:
    """Markdown tables and the headline numbers for the card (blind or external rows)."""
    texts = [r.text for r in blind]
    detectors: dict[str, list[bool]] = {
        **{name: [d(t) for t in texts] for name, d in extra.items()},
        "rules (corrected)": [screen_rules(t).risk >= 2 for t in texts],
        "classifier alone": [model.predict(t, use_encoder=False).crisis for t in texts],
        "classifier + rules (served)": [screen_text(t, model).needs_alert for t in texts],
    }
    lines = ["| detector | recall [95% CI] | false alarms [95% CI] |", "|---|---|---|"]
    headline: dict[str, Any] = {}
    for name, flags in detectors.items():
        hit, alarm = _rates(flags, blind)
        lines.append(f"| {name} | {hit.show()} | {alarm.show()} |")
        headline[name] = {"recall": round(hit.value, 4), "false_alarms": round(alarm.value, 4)}
    served = detectors["classifier + rules (served)"]
    lines += ["", "Served detector by language:", ""]
    lines += ["| language | recall | false alarms |", "|---|---|---|"]
    lines += _group_lines(served, blind, lambda r: r.language)
    lines += ["", "Served detector by tier/class (recall) and negative type (false alarms):", ""]
    lines += ["| category | recall | false alarms |", "|---|---|---|"]
    lines += _group_lines(served, blind, lambda r: r.category)
    return "\n".join(lines), headline


def cross_validation_report(oof: dict[str, Any], alarm_rate: float) -> str:
    """Designs side by side: recall at a fixed false-alarm rate, out-of-fold by writer."""
    labels = oof["labels"]
    lines = [
        f"| design | threshold at {alarm_rate:.0%} false alarms | recall [95% CI] "
        "| false alarms [95% CI] |",
        "|---|---|---|---|",
    ]
    names = {
        "ngram": "char + stem n-grams, TF-IDF, logistic regression",
        "embedding": "multilingual-e5-small embeddings, logistic regression",
        "mean": "mean of both (served)",
    }
    for key, name in names.items():
        scores = list(np.asarray(oof[key], dtype=float))
        threshold = threshold_at(scores, labels, alarm_rate)
        flags = [s >= threshold for s in scores]
        hit, alarm = recall(flags, labels), false_alarms(flags, labels)
        lines.append(f"| {name} | {threshold:.3f} | {hit.show()} | {alarm.show()} |")
    return "\n".join(lines)
