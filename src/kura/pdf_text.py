"""Text for fpdf2's core fonts (Helvetica), which cover Latin-1 only: typographic quotes,
dashes, the ellipsis and the euro sign become their ASCII forms, and any other character
outside Latin-1 (emoji, non-Latin scripts) is printed as "?"."""

from __future__ import annotations

import unicodedata

_ASCII_FORMS = str.maketrans(
    {
        "\u2018": "'",
        "\u2019": "'",
        "\u201c": '"',
        "\u201d": '"',
        "\u2013": "-",
        "\u2014": "-",
        "\u2026": "...",
        "\u20ac": "EUR",
        "\u00a0": " ",
    }
)


def latin1(text: object) -> str:
    """Text the core fonts can print."""
    value = unicodedata.normalize("NFC", str(text)).translate(_ASCII_FORMS)
    return value.encode("latin-1", errors="replace").decode("latin-1")
