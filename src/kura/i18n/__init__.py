"""One catalogue of the texts people read, in Spanish and English.

Texts live in `kura/i18n/<lang>/<area>.toml`: the file name is the area, so a key is
`area.name` (`emails.reset_subject`). A value is a `str.format` template, or a table with
`one` and `other` for texts that depend on a `count` (Spanish and English both use "one" for
exactly 1). Every language has the same keys and the same placeholders (tests/test_i18n.py).
"""

from __future__ import annotations

import functools
import tomllib
from importlib import resources
from typing import Any

LANGUAGES = ("es", "en")
DEFAULT_LANGUAGE = "es"


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
    value = catalogue(language(lang))[key]
    if isinstance(value, dict):
        if count is None:
            raise TypeError(f"{key} depends on a count")
        value = value["one" if count == 1 else "other"]
        params["count"] = count
    return value.format(**params)
