"""What the bot answers: in the person's language, with the emergency and crisis lines of
their country, worded for the level of risk. Never a diagnosis, never a promise the platform
does not keep ("your therapist will get an alert", not "I have told your therapist").

Every automatic reply carries the emergency numbers; a practice's own texts are added to
them, never put in their place. Lines by country: crisis_lines.toml (with sources).
"""

from __future__ import annotations

import tomllib
from functools import lru_cache
from importlib import resources
from typing import Any

import phonenumbers

from kura.aletheia.taxonomy import Risk

LANGUAGES = ("es", "en", "ca")
DEFAULT_COUNTRY = "ES"
# The language a stranger is answered in, from their phone's country (else English).
_COUNTRY_LANGUAGE = {
    "ES": "es", "MX": "es", "AR": "es", "CO": "es", "CL": "es", "PE": "es", "VE": "es",
    "EC": "es", "BO": "es", "UY": "es", "PY": "es", "CU": "es", "DO": "es", "GT": "es",
    "HN": "es", "SV": "es", "NI": "es", "CR": "es", "PA": "es", "AD": "ca",
}  # fmt: skip

# Territories that share another country's emergency and crisis lines.
_SAME_LINES = {"GG": "GB", "JE": "GB", "IM": "GB", "PR": "US"}

_LINES = {
    "es": "Si tu vida corre peligro, llama al {emergency}.",
    "en": "If your life is in danger, call {emergency}.",
    "ca": "Si la teva vida és en perill, truca al {emergency}.",
}
_CRISIS = {
    "es": "Puedes hablar con alguien en el {crisis} ({name}).",
    "en": "You can talk to someone on {crisis} ({name}).",
    "ca": "Pots parlar amb algú al {crisis} ({name}).",
}
_CRITICAL = {
    "es": "Lo que cuentas es urgente. Llama al {emergency} ahora o pide a alguien cercano que "
    "llame. Si has tomado algo o te has hecho daño, no esperes: llama ya.",
    "en": "What you describe is urgent. Call {emergency} now, or ask someone near you to call. "
    "If you have taken something or hurt yourself, do not wait: call now.",
    "ca": "El que expliques és urgent. Truca al {emergency} ara o demana a algú proper que "
    "truqui. Si has pres alguna cosa o t'has fet mal, no esperis: truca ja.",
}
_HIGH = {
    "es": "Gracias por contármelo. Lo que sientes importa y no tienes que pasarlo a solas.",
    "en": "Thank you for telling me. What you feel matters and you don't have to go through it "
    "alone.",
    "ca": "Gràcies per explicar-m'ho. El que sents importa i no ho has de passar tot sol.",
}
_ALERTED = {
    "es": "Tu terapeuta recibirá un aviso.",
    "en": "Your therapist will get an alert.",
    "ca": "El teu terapeuta rebrà un avís.",
}
_NOT_PASSED_ON = {
    "es": "Este número no puede hacer llegar tu mensaje a un terapeuta: si tienes uno, "
    "escríbele directamente.",
    "en": "This number cannot pass your message on to a therapist: if you have one, write to "
    "them directly.",
    "ca": "Aquest número no pot fer arribar el teu missatge a un terapeuta: si en tens, "
    "escriu-li directament.",
}
_ACK = {
    "es": "Mensaje recibido. Tu terapeuta lo verá pronto.",
    "en": "Message received. Your therapist will see it soon.",
    "ca": "Missatge rebut. El teu terapeuta el veurà aviat.",
}


@lru_cache(maxsize=1)
def crisis_lines() -> dict[str, dict[str, Any]]:
    raw = resources.files("kura.monitoring").joinpath("crisis_lines.toml").read_text("utf-8")
    return tomllib.loads(raw)


def country_of(phone: str | None) -> str:
    """ISO country of an E.164 number; Spain when it cannot be told."""
    if not phone:
        return DEFAULT_COUNTRY
    try:
        number = phonenumbers.parse(phone, None)
        region = phonenumbers.region_code_for_number(number) or (
            phonenumbers.region_code_for_country_code(number.country_code or 0)
        )
    except phonenumbers.NumberParseException:
        return DEFAULT_COUNTRY
    if not region or region == "ZZ":
        return DEFAULT_COUNTRY
    return _SAME_LINES.get(region, region)


def language_for(language: str | None, country: str) -> str:
    """The patient's language when we have texts for it, else their country's, else English."""
    if language in LANGUAGES:
        return language
    return _COUNTRY_LANGUAGE.get(country, "en")


def emergency_lines(language: str, country: str) -> str:
    """ "Call 112 … talk to someone on 024 (…)" for that country, in that language."""
    lines = crisis_lines()
    entry = lines.get(country, lines["default"])
    text = _LINES[language].format(emergency=entry["emergency"])
    if "crisis" in entry:
        names: dict[str, str] = entry["crisis_name"]
        name = names.get(language) or names.get("en") or next(iter(names.values()))
        text += " " + _CRISIS[language].format(crisis=entry["crisis"], name=name)
    return text


def _join(*parts: str | None) -> str:
    return " ".join(p.strip() for p in parts if p and p.strip())


def safety_reply(
    language: str | None,
    *,
    country: str = DEFAULT_COUNTRY,
    risk: Risk = Risk.HIGH,
    alerted: bool = True,
    resources: str | None = None,
) -> str:
    """At risk. CRITICAL (intent, plan, an attempt…) says to call the emergency number now.
    `alerted`: whether a therapist will really get an alert (only for enrolled patients)."""
    lang = language_for(language, country)
    lines = emergency_lines(lang, country)
    if risk >= Risk.CRITICAL:
        entry = crisis_lines().get(country, crisis_lines()["default"])
        opening = _CRITICAL[lang].format(emergency=entry["emergency"])
    else:
        opening = _HIGH[lang]
    closing = _ALERTED[lang] if alerted else _NOT_PASSED_ON[lang]
    return _join(opening, lines, resources, closing)


def acknowledgement(
    language: str | None,
    *,
    country: str = DEFAULT_COUNTRY,
    custom: str | None = None,
    resources: str | None = None,
) -> str:
    """Not at risk: the practice's text (or ours), always followed by the emergency lines."""
    lang = language_for(language, country)
    return _join(custom or _ACK[lang], emergency_lines(lang, country), resources)


_ENROLLED = {
    "es": "Listo: a partir de ahora {practice} podrá leer los mensajes que envíes a este número "
    "(si antes los leía otra consulta, ya no). Para dejarlo, escribe BAJA.",
    "en": "Done: from now on {practice} can read the messages you send to this number (if "
    "another practice did before, it no longer does). To stop, write STOP.",
    "ca": "Fet: a partir d'ara {practice} podrà llegir els missatges que enviïs a aquest número "
    "(si abans els llegia una altra consulta, ja no). Per deixar-ho, escriu BAIXA.",
}
_REFUSED = {
    "es": "Este código no es válido, ha caducado o es para otro teléfono. Pide uno nuevo a tu "
    "consulta.",
    "en": "This code is not valid, has expired or is for another phone. Ask your practice for "
    "a new one.",
    "ca": "Aquest codi no és vàlid, ha caducat o és per a un altre telèfon. Demana'n un de nou a "
    "la teva consulta.",
}
_NOT_ENROLLED = {
    "es": "Este número solo hace llegar a tu terapeuta los mensajes de pacientes que se han "
    "dado de alta con el código de su consulta.",
    "en": "This number only passes on messages from patients who signed up with their "
    "practice's code.",
    "ca": "Aquest número només fa arribar al terapeuta els missatges de pacients que s'han "
    "donat d'alta amb el codi de la seva consulta.",
}
_WITHDRAWN = {
    "es": "Hecho: tu terapeuta ya no recibirá estos mensajes y hemos borrado los guardados.",
    "en": "Done: your therapist will no longer get these messages, and the stored ones have "
    "been deleted.",
    "ca": "Fet: el teu terapeuta ja no rebrà aquests missatges i hem esborrat els desats.",
}


def _with_lines(texts: dict[str, str], language: str | None, country: str) -> str:
    lang = language_for(language, country)
    return _join(texts[lang], emergency_lines(lang, country))


def enrolled(language: str | None, *, practice: str, country: str = DEFAULT_COUNTRY) -> str:
    """Names the practice that will read the messages: the patient sees who it is."""
    lang = language_for(language, country)
    text = _ENROLLED[lang].format(practice=practice.strip()[:80] or "?")
    return _join(text, emergency_lines(lang, country))


def enrollment_refused(language: str | None = None, *, country: str = DEFAULT_COUNTRY) -> str:
    return _with_lines(_REFUSED, language, country)


def not_enrolled(language: str | None = None, *, country: str = DEFAULT_COUNTRY) -> str:
    return _with_lines(_NOT_ENROLLED, language, country)


def withdrawn(language: str | None, *, country: str = DEFAULT_COUNTRY) -> str:
    return _with_lines(_WITHDRAWN, language, country)
