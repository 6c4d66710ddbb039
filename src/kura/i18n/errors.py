"""Error messages in the reader's language.

Services raise their errors in English: that text is the API's `detail` (its contract). A
page shows the same error in the reader's language by looking the English template up in
`kura/i18n/errors/<lang>.toml`, whose keys are the templates as written in the source (an
f-string's `{expression}` becomes a `{name}` placeholder, matched against the message).
tests/test_error_texts.py finds every message in the source and checks that each has one.
"""

from __future__ import annotations

import functools
import re
import tomllib
from importlib import resources

_PLACEHOLDER = re.compile(r"\\\{([a-z0-9_]+)\\\}")


@functools.cache
def error_texts(lang: str) -> dict[str, str]:
    """English template → this language's text (empty for English and unknown languages)."""
    entry = resources.files("kura.i18n").joinpath("errors", f"{lang}.toml")
    if not entry.is_file():
        return {}
    return tomllib.loads(entry.read_text("utf-8"))


@functools.cache
def _patterns(lang: str) -> list[tuple[re.Pattern[str], str]]:
    return [
        (re.compile("^" + _PLACEHOLDER.sub(r"(?P<\1>.+?)", re.escape(english)) + "$"), local)
        for english, local in error_texts(lang).items()
        if "{" in english
    ]


def localize_error(message: str, lang: str) -> str:
    """`message` in `lang` when the catalogue has it; the English message otherwise."""
    texts = error_texts(lang)
    if message in texts and "{" not in message:
        return texts[message]
    for pattern, local in _patterns(lang):
        found = pattern.match(message)
        if found:
            return local.format(**found.groupdict())
    return texts.get(message, message)
