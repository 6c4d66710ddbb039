"""Conversation analysis: Gemini (JSON schema) when configured, otherwise offline rules.

The rules' findings are a floor: an AI result may add risk flags, never remove them, and a
provider failure falls back to the offline analyzer — it is never stored as "no risk".
"""

from __future__ import annotations

import tomllib
from collections.abc import Sequence
from functools import lru_cache
from importlib import resources

from pydantic import BaseModel, Field, ValidationError

from kura.ai.gemini import GeminiNotConfigured, gemini_client
from kura.ai.pseudonym import Pseudonymizer
from kura.aletheia.screen import Risk, ScreenResult
from kura.aletheia.taxonomy import Flag
from kura.aletheia.text import normalize
from kura.config import Settings

OFFLINE = "offline-rules"
GEMINI = "gemini"


# The text fields of an analysis and their stored lengths (restoring names may lengthen them).
_TEXT_LIMITS = {"summary": 2000, "emotional_state": 100, "suggestion": 1000}


class AnalysisResult(BaseModel):
    summary: str = Field(max_length=_TEXT_LIMITS["summary"])
    sentiment_score: float = Field(ge=-1.0, le=1.0)
    emotional_state: str = Field(max_length=_TEXT_LIMITS["emotional_state"])
    risk_flags: list[str] = Field(default_factory=list, max_length=20)
    suggestion: str = Field(max_length=_TEXT_LIMITS["suggestion"])


class ProviderFailed(Exception):
    """The AI provider did not give a usable answer (no detail that could hold content)."""


@lru_cache(maxsize=1)
def _sentiment_words() -> tuple[tuple[str, ...], tuple[str, ...]]:
    raw = resources.files("kura.aletheia.lexicon").joinpath("sentiment.toml").read_text("utf-8")
    data = tomllib.loads(raw)
    return tuple(data["positive"]), tuple(data["negative"])


def _state(score: float, risk: Risk, language: str) -> str:
    es = language != "en"
    if risk >= Risk.HIGH:
        return "En riesgo" if es else "At risk"
    if score <= -0.3:
        return "Vulnerable"  # the same word in both languages
    if score >= 0.3:
        return "Estable / positivo" if es else "Stable / positive"
    return "Neutro" if es else "Neutral"


def analyze_offline(
    messages: Sequence[str], screens: Sequence[ScreenResult], *, language: str = "es"
) -> AnalysisResult:
    positive, negative = _sentiment_words()
    pos = neg = 0
    for message in messages:
        for word in normalize(message).split():
            pos += any(word.startswith(p) for p in positive)
            neg += any(word.startswith(n) for n in negative)
    score = (pos - neg) / max(1, pos + neg)
    risk = max((s.risk for s in screens), default=Risk.LOW)
    flags = sorted({flag for s in screens for flag in s.flags})
    if risk >= Risk.HIGH:
        score = min(score, -0.5)
    es = language != "en"
    summary = (
        f"{len(messages)} mensajes. Señales: {', '.join(flags) or 'ninguna'}."
        if es
        else f"{len(messages)} messages. Signals: {', '.join(flags) or 'none'}."
    )
    if risk >= Risk.HIGH:
        suggestion = (
            "Contactar con el paciente hoy y revisar la alerta de riesgo."
            if es
            else "Contact the patient today and review the risk alert."
        )
    elif score <= -0.3 or "distress" in flags:
        suggestion = "Valorar un mensaje de apoyo." if es else "Consider a supportive message."
    else:
        suggestion = "Sin acción necesaria." if es else "No action needed."
    return AnalysisResult(
        summary=summary,
        sentiment_score=round(max(-1.0, min(1.0, score)), 2),
        emotional_state=_state(score, risk, language),
        risk_flags=flags,
        suggestion=suggestion,
    )


_PROMPT = """You support a therapist who monitors, with the patient's consent, the WhatsApp
messages a patient sent today. Read them and answer in {language} with JSON only:
summary (2-3 sentences, no names), sentiment_score (-1 very negative .. 1 very positive;
about -0.2 is ordinary processing of difficult material), emotional_state (a few words),
risk_flags (zero or more of: {flags}), suggestion (one concrete next step for the therapist).
Names, phones, places and addresses are replaced by placeholders such as [PACIENTE_1],
[PERSONA_1] or [LUGAR_1]: keep a placeholder exactly as written if you refer to it, and never
guess what it stands for. Do not diagnose. Messages, oldest first:
{messages}"""


async def analyze_with_gemini(
    settings: Settings,
    messages: Sequence[str],
    *,
    language: str,
    pseudonyms: Pseudonymizer | None = None,
) -> AnalysisResult:
    """Only pseudonymized text is sent; the answer's text fields are restored before return."""
    from google.genai import errors, types

    pseudonyms = pseudonyms or Pseudonymizer()
    try:
        client = gemini_client(settings)
    except GeminiNotConfigured:
        raise ProviderFailed("not configured") from None
    prompt = _PROMPT.format(
        flags=", ".join(f.value for f in Flag if f not in (Flag.CONTEXT, Flag.OTHER)),
        language={"en": "English", "ca": "Catalan"}.get(language, "Spanish"),
        messages="\n".join(f"- {pseudonyms.redact(m)}" for m in messages),
    )
    try:
        response = await client.aio.models.generate_content(
            model=settings.gemini_model,
            contents=prompt,
            config=types.GenerateContentConfig(
                response_mime_type="application/json",
                response_schema=AnalysisResult,
                temperature=0.2,
            ),
        )
        answer = AnalysisResult.model_validate_json(response.text or "")
    except (errors.APIError, ValidationError, ValueError) as exc:
        raise ProviderFailed(type(exc).__name__) from None
    except Exception as exc:  # network errors from the transport: retried by the caller
        raise ProviderFailed(type(exc).__name__) from None
    return restore_analysis(answer, pseudonyms)


def restore_analysis(answer: AnalysisResult, pseudonyms: Pseudonymizer) -> AnalysisResult:
    """Real names and values back in the text fields, within the stored lengths."""
    restored = {
        name: pseudonyms.restore(getattr(answer, name))[:limit]
        for name, limit in _TEXT_LIMITS.items()
    }
    return answer.model_copy(update=restored)
