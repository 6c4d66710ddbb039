"""Pseudonymization of what is sent to an AI provider, undone in its answer.

Known people (the caller names them), common given names, phones, emails, URLs, handles,
street addresses and places become stable placeholders (`[PACIENTE_1]`, `[PERSONA_2]`,
`[TELEFONO_1]`…): the same person or value gets the same placeholder within one
`Pseudonymizer`. `restore` puts the real values back; a placeholder that was never issued is
left as it is. Limits are in docs/privacy.md.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

import phonenumbers

from kura.ai.gazetteer import AMBIGUOUS_PLACES, COMMON_WORDS, GIVEN_NAMES, PARTICLES, PLACES

PATIENT = "PACIENTE"
PERSON = "PERSONA"
PHONE = "TELEFONO"
EMAIL = "EMAIL"
URL = "URL"
HANDLE = "USUARIO"
ADDRESS = "DIRECCION"
PLACE = "LUGAR"
KINDS = (PATIENT, PERSON, PHONE, EMAIL, URL, HANDLE, ADDRESS, PLACE)

# Brackets optional on the way back: models sometimes drop them, and a bare PACIENTE_1 should
# not be spoken aloud either.
_PLACEHOLDER = re.compile(r"\[?\b(" + "|".join(KINDS) + r")_(\d{1,4})\b\]?", re.IGNORECASE)
_EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_TLDS = "com|es|org|net|cat|eus|gal|eu|info|io|me|ly|app|co|mx|ar|cl|pe|uk|de|fr|it"
_URL = re.compile(
    r"(?:https?://|www\.)[^\s<>\"']+"
    rf"|(?<![\w@.-])(?:[\w-]+\.)+(?:{_TLDS})(?:/[^\s<>\"']*)?(?![\w@-])",
    re.IGNORECASE,
)
_HANDLE = re.compile(r"(?<![\w@.])@[A-Za-z0-9_][A-Za-z0-9_.]{2,29}")
# 9 to 15 digits with the usual separators: what phonenumbers misses (odd spacing, foreign).
_PHONE_FALLBACK = re.compile(r"(?<![\w+])(?:\+|00)?\d(?:[ .\-/]?\d){8,14}(?!\w)")
_POSTCODE = re.compile(
    r"\b(?:C\.?\s?P\.?|c[óo]digo postal)\s*\d{5}\b"
    r"|\b(?:0[1-9]|[1-4]\d|5[0-2])\d{3}(?=\s+[A-ZÁÉÍÓÚ])"  # a Spanish postcode before a town
)
_STREET_TYPES = (
    r"calle|c/|avenida|avda\.?|av\.|avd\.|plaza|pza\.?|paseo|p[ºo]\.|camino|carretera|ctra\.?"
    r"|traves[íi]a|glorieta|rambla|ronda|carrer|passeig|pg\.|pla[çc]a|avinguda|urbanizaci[óo]n"
    r"|urb\.|kalea|r[úu]a|street|road|avenue"
)
_JOIN = r"(?:de|del|la|las|los|el|d'|dels|i|y)"
_NAME_WORD = r"[A-ZÁÉÍÓÚÑÇ][\wÀ-ÿ'\u2019.-]*"
_MARKED_NUMBER = r"(?i:,?\s*(?:n[º°o]\.?|n[úu]m\.?|n[úu]mero)\s*\d{1,4})"
_NUMBER = (
    r"(?:,?\s*(?i:n[º°o]\.?|n[úu]m\.?|n[úu]mero)?\s*\d{1,4}[a-zA-Z]?\b"
    r"(?:\s*,?\s*\d{1,2}\s*[º°ª]\s*[A-Za-z]?\b)?)?"
)
# Case matters for the street's name: "la calle con 3 amigos" is not an address, "calle Mayor 3"
# and "calle mayor nº 3" are. Street types themselves match in any case.
_ADDRESS = re.compile(
    rf"(?<!\w)(?i:{_STREET_TYPES})(?:\s+|(?<=/)\s*)(?:{_JOIN}\s+)*{_NAME_WORD}"
    rf"(?:\s+(?:{_JOIN}\s+)*{_NAME_WORD}){{0,3}}{_NUMBER}"
    rf"|(?<!\w)(?i:{_STREET_TYPES})(?:\s+|(?<=/)\s*)(?:[\wÀ-ÿ'\u2019-]+\s+){{0,3}}[\wÀ-ÿ'\u2019-]+{_MARKED_NUMBER}"
)
_TRAILING = ".,;:!?)]'\"\u2019"
_CAPITALIZED = r"[A-ZÁÉÍÓÚÑÇ][a-záéíóúñçüï'\u2019-]+"
_SURNAME_TAIL = re.compile(rf"(?:\s+(?:(?:de|del|la|los)\s+)?{_CAPITALIZED}){{1,2}}")


def fold(text: str) -> str:
    """Lower case without accents, the same length as `text` (so spans map back); ñ and ç kept
    ("Peña" is not "pena")."""
    out = []
    for char in text:
        low = char.lower()
        if low in "ñç":
            out.append(low)
            continue
        base = unicodedata.normalize("NFD", char)[0].lower()
        out.append(base if len(base) == 1 else char)
    return "".join(out)


def _tokens(name: str) -> list[str]:
    return [t for t in re.split(r"[\s\-]+", fold(unicodedata.normalize("NFC", name))) if t]


def _phrase(tokens: Iterable[str]) -> str:
    return r"[\s\-]+".join(re.escape(t) for t in tokens)


@lru_cache(maxsize=1)
def _places() -> tuple[re.Pattern[str], dict[str, bool]]:
    ambiguous = {fold(p.strip()): fold(p.strip()) in AMBIGUOUS_PLACES for p in PLACES}
    ordered = sorted(ambiguous, key=len, reverse=True)
    pattern = re.compile(r"(?<!\w)(?:" + "|".join(_phrase(p.split()) for p in ordered) + r")(?!\w)")
    return pattern, ambiguous


@lru_cache(maxsize=1)
def _given_names() -> re.Pattern[str]:
    # Case-sensitive on the original text, and a following capitalized surname or two go too.
    names = "|".join(sorted((re.escape(n) for n in GIVEN_NAMES), key=len, reverse=True))
    return re.compile(rf"(?<![\w@])(?:{names})(?![\w@])(?:{_SURNAME_TAIL.pattern})?")


@dataclass(frozen=True)
class _Span:
    start: int
    end: int
    kind: str
    key: str
    rank: int  # lower wins a tie between overlapping spans of the same length


@dataclass
class _Person:
    placeholder: str
    spoken: str


class Pseudonymizer:
    """One per provider request: register the people of the context, redact, then restore."""

    def __init__(self) -> None:
        self._counters: dict[str, int] = {}
        self._by_key: dict[tuple[str, str], str] = {}
        self._values: dict[str, str] = {}
        # folded variant ("maria jose", "fernandez") -> (placeholder, needs a capital letter)
        self._variants: dict[str, tuple[str, bool]] = {}
        self._people_pattern: re.Pattern[str] | None = None
        self._literals: set[tuple[str, str]] = set()

    # -- registering ---------------------------------------------------------------------------

    def person(self, full_name: str, *, patient: bool = False, spoken: str | None = None) -> str:
        """The placeholder for this person; its name and name parts are replaced in `redact`.

        `spoken` is what `restore` writes back (default: the full name as given)."""
        tokens = _tokens(full_name)
        key = " ".join(tokens)
        if not key:
            return ""
        placeholder = self._issue(PATIENT if patient else PERSON, key, full_name.strip())
        self._values[placeholder] = (spoken or full_name).strip()
        for variant in _variants(tokens):
            # The whole name is never a phrase ("paz moreno"); a part may be a word ("paz").
            needs_capital = variant != tuple(tokens) and all(t in COMMON_WORDS for t in variant)
            self._variants.setdefault(" ".join(variant), (placeholder, needs_capital))
        self._people_pattern = None
        return placeholder

    def literal(self, value: str | None, kind: str) -> None:
        """A known value (the patient's phone or email) replaced wherever it appears as such."""
        if value and value.strip():
            key = _key(kind, value)
            self._issue(kind, key, value.strip())
            self._literals.add((kind, key))

    def _issue(self, kind: str, key: str, value: str) -> str:
        found = self._by_key.get((kind, key))
        if found is None:
            self._counters[kind] = self._counters.get(kind, 0) + 1
            found = f"[{kind}_{self._counters[kind]}]"
            self._by_key[(kind, key)] = found
            self._values[found] = value
        return found

    @property
    def issued(self) -> dict[str, str]:
        """Placeholder -> real value (never log it)."""
        return dict(self._values)

    # -- redacting -----------------------------------------------------------------------------

    def redact(self, text: str) -> str:
        text = unicodedata.normalize("NFC", text)
        folded = fold(text)
        people = self._people_spans(text, folded)
        spans = [
            *self._regex_spans(text, _EMAIL, EMAIL, 0),
            *self._regex_spans(text, _URL, URL, 1),
            *self._regex_spans(text, _HANDLE, HANDLE, 2),
            *_phone_spans(text),
            *self._regex_spans(text, _ADDRESS, ADDRESS, 4),
            *self._regex_spans(text, _POSTCODE, ADDRESS, 4),
            *self._literal_spans(folded),
            *people,
            *_place_spans(text, folded),
            # A known person's name inside a longer run of capitalized words keeps their own
            # placeholder rather than a new one for the run.
            *(
                span
                for span in self._regex_spans(text, _given_names(), PERSON, 8)
                if not any(p.start < span.end and span.start < p.end for p in people)
            ),
        ]
        out: list[str] = []
        position = 0
        for span in _non_overlapping(spans):
            surface = text[span.start : span.end]
            if span.kind in (PATIENT, PERSON) and span.key.startswith("["):
                placeholder = span.key  # a registered person
            else:
                placeholder = self._issue(span.kind, span.key or _key(span.kind, surface), surface)
            out.append(text[position : span.start])
            out.append(placeholder)
            position = span.end
        out.append(text[position:])
        return "".join(out)

    def _regex_spans(
        self, text: str, pattern: re.Pattern[str], kind: str, rank: int
    ) -> list[_Span]:
        spans = []
        for match in pattern.finditer(text):
            start, end = match.span()
            while end > start and text[end - 1] in _TRAILING:
                end -= 1  # sentence punctuation after a URL, an address or an email
            if end > start:
                spans.append(_Span(start, end, kind, _key(kind, text[start:end]), rank))
        return spans

    def _literal_spans(self, folded: str) -> list[_Span]:
        spans = []
        for kind, key in self._literals:
            value = self._values[self._by_key[(kind, key)]]
            if len(value) < 4:
                continue
            for match in re.finditer(re.escape(fold(value)), folded):
                spans.append(_Span(match.start(), match.end(), kind, key, 0))
        return spans

    def _people_spans(self, text: str, folded: str) -> list[_Span]:
        if not self._variants:
            return []
        if self._people_pattern is None:
            ordered = sorted(self._variants, key=len, reverse=True)
            alternatives = "|".join(_phrase(v.split()) for v in ordered)
            self._people_pattern = re.compile(rf"(?<!\w)(?:{alternatives})(?!\w)")
        spans = []
        for match in self._people_pattern.finditer(folded):
            variant = " ".join(re.split(r"[\s\-]+", match.group(0)))
            placeholder, needs_capital = self._variants[variant]
            if needs_capital and not text[match.start()].isupper():
                continue  # "la rosa", "no hay luz": the word, not the person
            # A surname the platform does not have ("Ana Ruiz García") goes with the name.
            tail = _SURNAME_TAIL.match(text, match.end())
            end = tail.end() if tail else match.end()
            spans.append(_Span(match.start(), end, PERSON, placeholder, 3))
        return spans

    # -- restoring -----------------------------------------------------------------------------

    def restore(self, text: str) -> str:
        """Real values back in the provider's answer; unknown placeholders stay as written."""

        def back(match: re.Match[str]) -> str:
            placeholder = f"[{match.group(1).upper()}_{int(match.group(2))}]"
            return self._values.get(placeholder, match.group(0))

        return _PLACEHOLDER.sub(back, text)


def _variants(tokens: list[str]) -> list[tuple[str, ...]]:
    """The full name and every run of its parts that does not start or end with a particle;
    single parts shorter than three letters are left out ("Mª", initials)."""
    found = []
    for size in range(len(tokens), 0, -1):
        for start in range(len(tokens) - size + 1):
            run = tuple(tokens[start : start + size])
            if run[0] in PARTICLES or run[-1] in PARTICLES:
                continue
            if size == 1 and len(run[0].strip(".")) < 3:
                continue
            found.append(run)
    return found


def _key(kind: str, value: str) -> str:
    if kind == PHONE:
        digits = re.sub(r"\D", "", value)
        return digits[-9:]  # +34 612… and 612… are the same phone
    if kind in (EMAIL, URL, HANDLE):
        return value.strip().lower()
    return " ".join(fold(value).split())


def _phone_spans(text: str) -> list[_Span]:
    spans = []
    for match in phonenumbers.PhoneNumberMatcher(text, "ES"):
        spans.append(_Span(match.start, match.end, PHONE, _key(PHONE, match.raw_string), 3))
    for found in _PHONE_FALLBACK.finditer(text):
        spans.append(_Span(found.start(), found.end(), PHONE, _key(PHONE, found.group(0)), 3))
    return spans


def _place_spans(text: str, folded: str) -> list[_Span]:
    pattern, ambiguous = _places()
    spans = []
    for match in pattern.finditer(folded):
        name = " ".join(re.split(r"[\s\-]+", match.group(0)))
        if ambiguous.get(name, False) and not text[match.start()].isupper():
            continue  # "una granada", "otra ronda"
        spans.append(_Span(match.start(), match.end(), PLACE, name, 5))
    return spans


def _non_overlapping(spans: list[_Span]) -> list[_Span]:
    """Earliest first; of spans starting together, the longest, then the lowest rank."""
    chosen: list[_Span] = []
    end = 0
    for span in sorted(spans, key=lambda s: (s.start, -(s.end - s.start), s.rank)):
        if span.start >= end:
            chosen.append(span)
            end = span.end
    return chosen
