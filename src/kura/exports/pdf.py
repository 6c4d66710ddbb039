"""The readable PDF of a record (fpdf2, blocking: built in a worker thread).

fpdf2's core fonts (Helvetica) cover Latin-1 only, and the image ships no TTF font: text is
made Latin-1 deliberately — typographic quotes, dashes, ellipsis and the euro sign become their
ASCII forms, and any other character outside Latin-1 (emoji, non-Latin scripts) is printed as
"?". The JSON files next to the PDF keep every character and are the authoritative copy; the
manifest says so. A PDF holds at most NOTES_PER_VOLUME entries, so a long record becomes
`record-2.pdf`, `record-3.pdf`, … and memory stays bounded by one volume.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fpdf import FPDF
from fpdf.fonts import CoreFont

from kura.pdf_text import latin1

NOTES_PER_VOLUME = 200
LATIN1_NOTE = (
    "The PDF uses Latin-1 core fonts: characters outside Latin-1 are shown as '?'. "
    "The JSON files keep the exact text."
)


def _when(value: object) -> str:
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M UTC")
    return "" if value is None else str(value)


class RecordPdf:
    """One volume: a heading, then notes (with addenda, signature, strike-through) and lines."""

    def __init__(self, *, title: str, subtitle: str) -> None:
        self.entries = 0
        self._pdf = FPDF(format="A4")
        self._pdf.set_auto_page_break(auto=True, margin=15)
        self._pdf.set_title(latin1(title))
        self._pdf.add_page()
        self._pdf.set_font("Helvetica", "B", 14)
        self._line(title, height=8)
        self._pdf.set_font("Helvetica", size=9)
        self._line(subtitle)
        self._line(LATIN1_NOTE)
        self._pdf.ln(3)

    def _line(self, text: object, *, height: float = 5) -> None:
        for line in self.wrap(latin1(text)):
            self._pdf.cell(0, height, line, new_x="LMARGIN", new_y="NEXT")

    def wrap(self, text: str) -> list[str]:
        """Greedy word wrap measuring each word once from the core font's widths: fpdf2's
        multi_cell re-measures the line for every character (about 25 ms per 1 KB note, most
        of an export's time; this is about 20x faster)."""
        pdf = self._pdf
        font, points = pdf.current_font, pdf.font_size_pt
        assert isinstance(font, CoreFont)
        width = pdf.epw - 2 * pdf.c_margin  # a cell pads its text on both sides

        def measure(word: str) -> float:
            return font.get_text_width(word, points, None)[1] / pdf.k

        space = measure(" ")
        lines: list[str] = []
        for paragraph in text.replace("\r\n", "\n").replace("\t", "    ").split("\n"):
            words: list[str] = []
            used = 0.0
            for word in paragraph.replace("\r", " ").split(" "):
                size = measure(word)
                while size > width:  # a word wider than the page: cut it where it overflows
                    if words:
                        lines.append(" ".join(words))
                        words, used = [], 0.0
                    cut, taken = 1, measure(word[0])
                    while cut < len(word) and taken + measure(word[cut]) <= width:
                        taken += measure(word[cut])
                        cut += 1
                    lines.append(word[:cut])
                    word = word[cut:]
                    size = measure(word)
                if words and used + space + size > width:
                    lines.append(" ".join(words))
                    words, used = [], 0.0
                used += size + (space if words else 0.0)
                words.append(word)
            lines.append(" ".join(words))
        return lines

    def section(self, heading: str) -> None:
        self._pdf.ln(2)
        self._pdf.set_font("Helvetica", "B", 12)
        self._line(heading, height=7)
        self._pdf.set_font("Helvetica", size=10)

    def fields(self, values: dict[str, object]) -> None:
        for key, value in values.items():
            self._line(f"{key}: {_when(value)}")

    def note(self, note: dict[str, Any]) -> None:
        self.entries += 1
        self._pdf.ln(2)
        self._pdf.set_font("Helvetica", "B", 10)
        flags = [note["type"], note["status"]]
        if note.get("is_private"):
            flags.append("PRIVATE")
        if note.get("deleted_at"):
            flags.append("DELETED DRAFT")
        self._line(f"{_when(note['created_at'])} - {' / '.join(flags)}")
        self._pdf.set_font("Helvetica", size=10)
        if note.get("signed_at"):
            self._line(f"Signed {_when(note['signed_at'])} by {note.get('signed_by_id')}")
        if note.get("struck_at"):
            self._line(f"ENTERED IN ERROR ({_when(note['struck_at'])}): {note['strike_reason']}")
        self._line(note["content"])
        for addendum in note.get("addenda", []):
            self._line(
                f"Addendum {_when(addendum['created_at'])}, signed by "
                f"{addendum['signed_by_name']}: {addendum['content']}"
            )
        if note.get("versions"):
            self._line(f"{len(note['versions'])} earlier version(s): see notes.json.")

    def row(self, text: str) -> None:
        self.entries += 1
        self._line(text)

    @property
    def full(self) -> bool:
        return self.entries >= NOTES_PER_VOLUME

    def output(self) -> bytes:
        return bytes(self._pdf.output())
