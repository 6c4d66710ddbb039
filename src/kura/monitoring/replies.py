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
from kura.i18n import PATIENT_LANGUAGES, text

DEFAULT_COUNTRY = "ES"
# The language a stranger is answered in, from their phone's country (else English).
_COUNTRY_LANGUAGE = {
    "ES": "es", "MX": "es", "AR": "es", "CO": "es", "CL": "es", "PE": "es", "VE": "es",
    "EC": "es", "BO": "es", "UY": "es", "PY": "es", "CU": "es", "DO": "es", "GT": "es",
    "HN": "es", "SV": "es", "NI": "es", "CR": "es", "PA": "es", "AD": "ca",
}  # fmt: skip

# Territories that share another country's emergency and crisis lines.
_SAME_LINES = {"GG": "GB", "JE": "GB", "IM": "GB", "PR": "US"}


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
    if language in PATIENT_LANGUAGES:
        return language
    return _COUNTRY_LANGUAGE.get(country, "en")


def emergency_lines(language: str, country: str) -> str:
    """ "Call 112 … talk to someone on 024 (…)" for that country, in that language."""
    lines = crisis_lines()
    entry = lines.get(country, lines["default"])
    said = text(language, "replies.lines", emergency=entry["emergency"])
    if "crisis" in entry:
        names: dict[str, str] = entry["crisis_name"]
        name = names.get(language) or names.get("en") or next(iter(names.values()))
        said += " " + text(language, "replies.crisis", crisis=entry["crisis"], name=name)
    return said


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
        opening = text(lang, "replies.critical", emergency=entry["emergency"])
    else:
        opening = text(lang, "replies.high")
    closing = text(lang, "replies.alerted" if alerted else "replies.not_passed_on")
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
    return _join(custom or text(lang, "replies.ack"), emergency_lines(lang, country), resources)


def _with_lines(key: str, language: str | None, country: str) -> str:
    lang = language_for(language, country)
    return _join(text(lang, f"replies.{key}"), emergency_lines(lang, country))


def enrolled(language: str | None, *, practice: str, country: str = DEFAULT_COUNTRY) -> str:
    """Names the practice that will read the messages: the patient sees who it is."""
    lang = language_for(language, country)
    said = text(lang, "replies.enrolled", practice=practice.strip()[:80] or "?")
    return _join(said, emergency_lines(lang, country))


def enrollment_refused(language: str | None = None, *, country: str = DEFAULT_COUNTRY) -> str:
    return _with_lines("refused", language, country)


def not_enrolled(language: str | None = None, *, country: str = DEFAULT_COUNTRY) -> str:
    return _with_lines("not_enrolled", language, country)


def withdrawn(language: str | None, *, country: str = DEFAULT_COUNTRY) -> str:
    return _with_lines("withdrawn", language, country)
