"""One catalogue of the texts people read, in Spanish and English.

Texts live in `kura/i18n/<lang>/<area>.toml`: the file name is the area, so a key is
`area.name` (`emails.reset_subject`). A value is a `str.format` template, or a table with
`one` and `other` for texts that depend on a `count` (Spanish and English both use "one" for
exactly 1). Every language has the same keys and the same placeholders (tests/test_i18n.py).
"""

from __future__ import annotations

import functools
import tomllib
from datetime import date
from importlib import resources
from typing import Any

LANGUAGES = ("es", "en")
DEFAULT_LANGUAGE = "es"
# What is written in the patient's own language (the bot's replies, a day's analysis of their
# messages) may also be Catalan: those areas exist in full in every patient language
# (tests/test_i18n.py); the other areas fall back to LANGUAGES.
PATIENT_LANGUAGES = (*LANGUAGES, "ca")
PATIENT_AREAS = ("replies", "analysis")


def language(tag: str | None) -> str:
    """A supported language for a locale tag ("es-ES", "en_GB", None…); Spanish otherwise."""
    primary = (tag or "").replace("_", "-").split("-")[0].strip().lower()
    return primary if primary in LANGUAGES else DEFAULT_LANGUAGE


@functools.cache
def catalogue(lang: str) -> dict[str, str | dict[str, str]]:
    """Every text of a language, keyed `area.name`."""
    texts: dict[str, str | dict[str, str]] = {}
    folder = resources.files("kura.i18n").joinpath(lang)
    for entry in sorted(folder.iterdir(), key=lambda item: item.name):
        if not entry.name.endswith(".toml"):
            continue
        area = entry.name.removesuffix(".toml")
        for name, value in tomllib.loads(entry.read_text("utf-8")).items():
            texts[f"{area}.{name}"] = value
    return texts


def text(lang: str, key: str, /, count: int | None = None, **params: Any) -> str:
    """The text `key` in `lang`, placeholders filled; `count` picks one/other and is `{count}`."""
    primary = (lang or "").replace("_", "-").split("-")[0].strip().lower()
    patient_text = primary in PATIENT_LANGUAGES and key.split(".", 1)[0] in PATIENT_AREAS
    value = catalogue(primary if patient_text else language(lang))[key]
    if isinstance(value, dict):
        if count is None:
            raise TypeError(f"{key} depends on a count")
        value = value["one" if count == 1 else "other"]
        params["count"] = count
    return value.format(**params)


def long_date(lang: str, day: date) -> str:
    """ "jueves, 3 de diciembre" / "Thursday, December 3": as the briefing says it."""
    return text(
        lang,
        "briefing.date",
        weekday=text(lang, f"briefing.weekday_{day.isoweekday()}"),
        day=day.day,
        month=text(lang, f"briefing.month_{day.month}"),
    )
