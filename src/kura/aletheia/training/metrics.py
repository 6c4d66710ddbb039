"""Recall and false-alarm rates with Wilson 95% intervals, and thresholds at a false-alarm rate."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

Z95 = 1.959964


@dataclass(frozen=True)
class Rate:
    hits: int
    total: int

    @property
    def value(self) -> float:
        return self.hits / self.total if self.total else float("nan")

    def interval(self) -> tuple[float, float]:
        """Wilson score interval (sound at 0 or n and for small n)."""
        if not self.total:
            return (float("nan"), float("nan"))
        n, p = self.total, self.hits / self.total
        centre = (p + Z95**2 / (2 * n)) / (1 + Z95**2 / n)
        half = Z95 * math.sqrt(p * (1 - p) / n + Z95**2 / (4 * n * n)) / (1 + Z95**2 / n)
        return (max(0.0, centre - half), min(1.0, centre + half))

    def show(self) -> str:
        if not self.total:
            return "-"
        low, high = self.interval()
        return f"{self.value:.2f} [{low:.2f}-{high:.2f}] ({self.hits}/{self.total})"


def recall(flags: Sequence[bool], labels: Sequence[bool]) -> Rate:
    positives = [f for f, y in zip(flags, labels, strict=True) if y]
    return Rate(sum(positives), len(positives))


def false_alarms(flags: Sequence[bool], labels: Sequence[bool]) -> Rate:
    negatives = [f for f, y in zip(flags, labels, strict=True) if not y]
    return Rate(sum(negatives), len(negatives))


def threshold_at(scores: Sequence[float], labels: Sequence[bool], alarm_rate: float) -> float:
    """The lowest threshold whose false-alarm rate on these negatives is at most alarm_rate."""
    negatives = sorted((s for s, y in zip(scores, labels, strict=True) if not y), reverse=True)
    allowed = int(alarm_rate * len(negatives))
    if allowed >= len(negatives):
        return 0.0
    # Scores strictly above the (allowed+1)-th highest negative raise an alarm.
    return negatives[allowed] + 1e-9
