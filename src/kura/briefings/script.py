"""The briefing's words: Gemini when configured, otherwise a written template. Risks first."""

from __future__ import annotations

from kura.ai.gemini import gemini_client
from kura.ai.pseudonym import Pseudonymizer
from kura.briefings.content import BriefingFacts
from kura.config import Settings
from kura.logging import get_logger

log = get_logger(__name__)
TEMPLATE = "template"
GEMINI = "gemini"

_WEEKDAYS = {
    "es": ["lunes", "martes", "miércoles", "jueves", "viernes", "sábado", "domingo"],
    "en": ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"],
}
_MONTHS = {
    "es": [
        "enero",
        "febrero",
        "marzo",
        "abril",
        "mayo",
        "junio",
        "julio",
        "agosto",
        "septiembre",
        "octubre",
        "noviembre",
        "diciembre",
    ],
    "en": [
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ],
}


def spoken_date(facts: BriefingFacts) -> str:
    lang = facts.language
    weekday = _WEEKDAYS[lang][facts.day.weekday()]
    month = _MONTHS[lang][facts.day.month - 1]
    if lang == "en":
        return f"{weekday}, {month} {facts.day.day}"
    return f"{weekday}, {facts.day.day} de {month}"


def _names(names: list[str], lang: str) -> str:
    if len(names) <= 1:
        return "".join(names)
    joiner = " and " if lang == "en" else " y "
    return ", ".join(names[:-1]) + joiner + names[-1]


def template_script(facts: BriefingFacts) -> str:
    if facts.language == "en":
        return _template_en(facts)
    parts = [f"Buenos días, {facts.first_name}. Hoy es {spoken_date(facts)}."]
    if facts.open_alerts:
        if facts.clinical and facts.risk_patients:
            who = _names(facts.risk_patients[:3], "es")
            extra = len(facts.risk_patients) - 3
            more = f", y {extra} más" if extra > 0 else ""
            parts.append(
                f"Lo primero: hay alertas de riesgo sin revisar de {who}{more}. "
                "Revísalas antes de empezar tu jornada."
            )
        else:
            parts.append(
                f"Hay {facts.open_alerts} alertas de riesgo pendientes; el equipo clínico ya "
                "está avisado."
            )
    if facts.appointments == 1:
        at = f", a las {facts.first_appointment:%H:%M}" if facts.first_appointment else ""
        parts.append(f"Tienes una cita hoy{at}.")
    elif facts.appointments:
        first = (
            f", la primera a las {facts.first_appointment:%H:%M}" if facts.first_appointment else ""
        )
        parts.append(f"Tienes {facts.appointments} citas hoy{first}.")
    else:
        parts.append("No tienes citas en la agenda de hoy.")
    if facts.income_24h:
        parts.append(
            f"En las últimas veinticuatro horas has ingresado {spoken_income(facts, 'es')}."
        )
    else:
        parts.append("No ha habido ingresos en las últimas veinticuatro horas.")
    if facts.pending_items:
        parts.append(f"Tienes {facts.pending_items} asuntos pendientes por revisar.")
    else:
        parts.append("No tienes asuntos pendientes: buen momento para preparar tus sesiones.")
    parts.append(
        "Recuerda dejar unos minutos entre sesiones para respirar y tomar notas. "
        "Que tengas un buen día."
    )
    return " ".join(parts)


def _template_en(facts: BriefingFacts) -> str:
    parts = [f"Good morning, {facts.first_name}. Today is {spoken_date(facts)}."]
    if facts.open_alerts:
        if facts.clinical and facts.risk_patients:
            who = _names(facts.risk_patients[:3], "en")
            extra = len(facts.risk_patients) - 3
            more = f", and {extra} more" if extra > 0 else ""
            parts.append(
                f"First: there are unreviewed risk alerts for {who}{more}. "
                "Please review them before you start your day."
            )
        else:
            parts.append(
                f"There are {facts.open_alerts} pending risk alerts; the clinical team has been "
                "notified."
            )
    if facts.appointments == 1:
        at = f", at {facts.first_appointment:%H:%M}" if facts.first_appointment else ""
        parts.append(f"You have one appointment today{at}.")
    elif facts.appointments:
        first = f", the first at {facts.first_appointment:%H:%M}" if facts.first_appointment else ""
        parts.append(f"You have {facts.appointments} appointments today{first}.")
    else:
        parts.append("There are no appointments in today's agenda.")
    if facts.income_24h:
        parts.append(f"In the last twenty-four hours you received {spoken_income(facts, 'en')}.")
    else:
        parts.append("There was no income in the last twenty-four hours.")
    if facts.pending_items:
        parts.append(f"You have {facts.pending_items} pending items to review.")
    else:
        parts.append("Nothing is pending: a good moment to prepare your sessions.")
    parts.append(
        "Remember to leave a few minutes between sessions to breathe and take notes. "
        "Have a good day."
    )
    return " ".join(parts)


# How a currency is read aloud; another one is spelled by its ISO code.
_CURRENCY_NAMES = {
    "es": {
        "eur": "euros",
        "usd": "dólares estadounidenses",
        "gbp": "libras esterlinas",
        "mxn": "pesos mexicanos",
        "chf": "francos suizos",
    },
    "en": {
        "eur": "euros",
        "usd": "US dollars",
        "gbp": "pounds sterling",
        "mxn": "Mexican pesos",
        "chf": "Swiss francs",
    },
}


def spoken_income(facts: BriefingFacts, language: str) -> str:
    """ "60.00 euros y 20.00 dólares estadounidenses": each currency on its own."""
    names = _CURRENCY_NAMES["es" if language == "es" else "en"]
    amounts = [
        f"{amount:.2f} {names.get(code, code.upper())}" for code, amount in facts.income_24h.items()
    ]
    if len(amounts) <= 1:
        return "".join(amounts)
    joiner = " y " if language == "es" else " and "
    return ", ".join(amounts[:-1]) + joiner + amounts[-1]


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
        text = await _gemini(settings, facts)
    except Exception as exc:  # any provider failure: the template still serves the user
        log.warning("briefing.gemini_failed", error=type(exc).__name__)
        return template_script(facts), f"{TEMPLATE} (gemini failed)"
    return text, GEMINI


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
    text = (response.text or "").strip()
    if len(text) < 40:
        raise ValueError("empty briefing")
    spoken = pseudonyms.restore(text)
    # A risk left out of the spoken briefing is worse than the template's plainer wording.
    if facts.clinical and any(name not in spoken for name in facts.risk_patients[:NAMED_AT_MOST]):
        raise ScriptLeftOutPatients
    return spoken[:3000]
