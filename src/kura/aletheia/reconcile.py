"""Keeping a day's analysis consistent with the screen: risk flags only accumulate, and the
words stored next to a risk flag never say "stable" or "no action"."""

from __future__ import annotations

from collections.abc import Iterable

from kura.aletheia.analyzer import AnalysisResult
from kura.aletheia.taxonomy import ALERTING_FLAGS, Flag, to_flag
from kura.aletheia.text import fold
from kura.i18n import PATIENT_LANGUAGES, text

_CALM_WORDS = (
    "estable", "stable", "positiv", "sin accion", "no action", "ninguna accion", "nothing to do",
    "no requiere", "no se requiere", "no hace falta", "fine", "bien", "tranquil", "calm",
    "sin riesgo", "no risk", "ninguna senal", "no signals", "none",
)  # fmt: skip


def closed_flags(names: Iterable[str]) -> list[str]:
    """Any provider's flag names as ours (unknown ones become `other`, never dropped)."""
    return sorted({to_flag(name).value for name in names})


def _calm(words: str) -> bool:
    folded = fold(words)
    return any(word in folded for word in _CALM_WORDS)


def reconcile(
    result: AnalysisResult, *, earlier_flags: Iterable[str] = (), language: str = "es"
) -> AnalysisResult:
    """The union of today's flags; at risk, the state, suggestion and summary say so."""
    flags = sorted(set(closed_flags(result.risk_flags)) | set(closed_flags(earlier_flags)))
    alerting = [f for f in flags if Flag(f) in ALERTING_FLAGS]
    if not alerting:
        return result.model_copy(update={"risk_flags": flags})
    lang = language if language in PATIENT_LANGUAGES else "es"
    state = result.emotional_state
    if _calm(state) or not state.strip():
        state = text(lang, "analysis.at_risk_state")
    suggestion = result.suggestion
    if _calm(suggestion) or not suggestion.strip():
        suggestion = text(lang, "analysis.at_risk_suggestion")
    summary = result.summary
    if not all(f in summary for f in alerting):
        signals = text(lang, "analysis.signals")
        summary = f"{summary.rstrip()} {signals}: {', '.join(alerting)}.".strip()[:2000]
    return result.model_copy(
        update={
            "risk_flags": flags,
            "emotional_state": state[:100],
            "suggestion": suggestion[:1000],
            "summary": summary,
            "sentiment_score": min(result.sentiment_score, -0.5),
        }
    )
