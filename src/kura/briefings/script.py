"""The briefing's words: Gemini when configured, otherwise a written template. Risks first."""

from __future__ import annotations

from kura.ai.gemini import gemini_client
from kura.ai.pseudonym import Pseudonymizer
from kura.briefings.content import BriefingFacts
from kura.config import Settings
from kura.i18n import long_date, text
from kura.logging import get_logger

log = get_logger(__name__)
TEMPLATE = "template"
GEMINI = "gemini"


def spoken_date(facts: BriefingFacts) -> str:
    return long_date(facts.language, facts.day)


def _listed(items: list[str], lang: str) -> str:
    """ "a, b y c" / "a, b and c"."""
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + text(lang, "briefing.and") + items[-1]


def template_script(facts: BriefingFacts) -> str:
    lang = facts.language
    parts = [text(lang, "briefing.greeting", name=facts.first_name, date=spoken_date(facts))]
    # Risks first: before the agenda, whoever reads the briefing.
    if facts.open_alerts:
        if facts.clinical and facts.risk_patients:
            who = _listed(facts.risk_patients[:NAMED_AT_MOST], lang)
            extra = len(facts.risk_patients) - NAMED_AT_MOST
            if extra > 0:
                who += text(lang, "briefing.more", extra=extra)
            parts.append(text(lang, "briefing.risk_named", who=who))
        else:
            parts.append(text(lang, "briefing.risk_count", count=facts.open_alerts))
    if facts.appointments and facts.first_appointment:
        parts.append(
            text(
                lang,
                "briefing.appointments_at",
                count=facts.appointments,
                time=f"{facts.first_appointment:%H:%M}",
            )
        )
    elif facts.appointments:
        parts.append(text(lang, "briefing.appointments", count=facts.appointments))
    else:
        parts.append(text(lang, "briefing.no_appointments"))
    if facts.income_24h:
        parts.append(text(lang, "briefing.income", amount=spoken_income(facts, lang)))
    else:
        parts.append(text(lang, "briefing.no_income"))
    if facts.pending_items:
        parts.append(text(lang, "briefing.pending", count=facts.pending_items))
    else:
        parts.append(text(lang, "briefing.no_pending"))
    parts.append(text(lang, "briefing.closing"))
    return " ".join(parts)


# Currencies with a spoken name in the catalogue (briefing.currency_<code>).
_SPOKEN_CURRENCIES = frozenset({"eur", "usd", "gbp", "mxn", "chf"})


def _currency_name(code: str, lang: str) -> str:
    if code in _SPOKEN_CURRENCIES:
        return text(lang, f"briefing.currency_{code}")
    return code.upper()


def spoken_income(facts: BriefingFacts, language: str) -> str:
    """ "60.00 euros y 20.00 dólares estadounidenses": each currency on its own."""
    lang = "es" if language == "es" else "en"
    amounts = [
        f"{amount:.2f} {_currency_name(code, lang)}" for code, amount in facts.income_24h.items()
    ]
    return _listed(amounts, lang)


_PROMPT = """Write the spoken morning briefing (30 to 45 seconds, plain text, no lists, no
markdown) for a therapist, in {language}. Start with the date, then any risk alerts first,
then the agenda, income and pending work. Warm and concise; never a diagnosis.
People are written as placeholders such as [PERSONA_1] or [PACIENTE_1]: use them exactly as
written, name every patient with an alert, and never invent a name.
Facts: {facts}"""
NAMED_AT_MOST = 3  # patients with alerts the script must name (the template's rule too)


class ScriptLeftOutPatients(ValueError):
    """The model's script does not name every patient with an alert it was given."""


async def write_script(settings: Settings, facts: BriefingFacts) -> tuple[str, str]:
    """(script, method). A Gemini failure falls back to the template, and says so."""
    if not settings.uses_gemini:
        return template_script(facts), TEMPLATE
    try:
        spoken = await _gemini(settings, facts)
    except Exception as exc:  # any provider failure: the template still serves the user
        log.warning("briefing.gemini_failed", error=type(exc).__name__)
        return template_script(facts), f"{TEMPLATE} (gemini failed)"
    return spoken, GEMINI


def pseudonymized_facts(facts: BriefingFacts, pseudonyms: Pseudonymizer) -> dict[str, object]:
    """What Gemini is told: counts and times, people only as placeholders."""
    return {
        "date": spoken_date(facts),
        "name": pseudonyms.person(facts.first_name, spoken=facts.first_name),
        "risk_alerts_open": facts.open_alerts,
        "patients_with_alerts": [
            pseudonyms.person(name, patient=True) for name in facts.risk_patients
        ],
        "appointments": facts.appointments,
        "first_appointment": facts.first_appointment.strftime("%H:%M")
        if facts.first_appointment
        else None,
        "income_last_24h": spoken_income(facts, facts.language) or "none",
        "pending_items": facts.pending_items,
    }


async def _gemini(settings: Settings, facts: BriefingFacts) -> str:
    from google.genai import types

    client = gemini_client(settings)
    pseudonyms = Pseudonymizer()
    described = pseudonymized_facts(facts, pseudonyms)
    prompt = _PROMPT.format(
        language="Spanish" if facts.language == "es" else "English", facts=described
    )
    response = await client.aio.models.generate_content(
        model=settings.gemini_model,
        # The facts hold placeholders already; redacting the whole prompt is the safety net.
        contents=pseudonyms.redact(prompt),
        config=types.GenerateContentConfig(temperature=0.4, max_output_tokens=400),
    )
    answer = (response.text or "").strip()
    if len(answer) < 40:
        raise ValueError("empty briefing")
    spoken = pseudonyms.restore(answer)
    # A risk left out of the spoken briefing is worse than the template's plainer wording.
    if facts.clinical and any(name not in spoken for name in facts.risk_patients[:NAMED_AT_MOST]):
        raise ScriptLeftOutPatients
    return spoken[:3000]
