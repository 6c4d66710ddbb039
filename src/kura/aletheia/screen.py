"""The immediate, rule-based screen run on every inbound message (≤ 1 ms).

Severity tiers follow the Columbia screener (see lexicon/README.md). The screen flags for a
human: it raises, never clears, and it explains itself with the names of what matched.
"""

from __future__ import annotations

import re
import tomllib
import unicodedata
from dataclasses import dataclass, field
from enum import IntEnum
from functools import lru_cache
from importlib import resources
from typing import Any

LEXICON_LANGUAGES = ("es", "en")
NEGATION_WINDOW_WORDS = 3
_CLAUSE_SPLIT = re.compile(r"[.!?;,\n]+|\s(?:pero|but|aunque|although)\s")
_NON_WORD = re.compile(r"[^a-z0-9' ]+")
_SPACES = re.compile(r"\s+")


class Risk(IntEnum):
    LOW = 0
    MEDIUM = 1
    HIGH = 2
    CRITICAL = 3


LEVEL_NAMES = {
    0: "none",
    1: "passive_death_wish",
    2: "suicidal_ideation",
    3: "method",
    4: "intent",
    5: "plan",
    6: "preparatory_behaviour",
}


def risk_for_level(level: int) -> Risk:
    if level >= 4:
        return Risk.CRITICAL
    # Even a passive death wish is brought to the therapist's attention at once.
    if level >= 1:
        return Risk.HIGH
    return Risk.LOW


@dataclass(frozen=True)
class ScreenResult:
    level: int = 0
    risk: Risk = Risk.LOW
    flags: tuple[str, ...] = field(default_factory=tuple)

    @property
    def needs_alert(self) -> bool:
        return self.risk >= Risk.HIGH

    @property
    def label(self) -> str:
        return LEVEL_NAMES[self.level]


@dataclass(frozen=True)
class _Rule:
    flag: str
    level: int
    risk: Risk
    regex: re.Pattern[str]
    # Literal pieces every match must contain: a C-speed `in` test skips most rules.
    anchors: tuple[str, ...]
    # A match does not count when one of these appears in the same clause.
    unless: re.Pattern[str] | None = None


@dataclass(frozen=True)
class _Lexicon:
    rules: tuple[_Rule, ...]
    negations: re.Pattern[str]
    reporters: re.Pattern[str]


_GROUP = re.compile(r"\([^()]*\)\??")
_ESCAPE = re.compile(r"\\\w[*+?]?|\[[^\]]*\][*+?]?|\S[*+?]|\\b")


def _anchors(pattern: str) -> tuple[str, ...]:
    """Literal words outside groups, e.g. "(me )?quiero morir(me)?" -> ("quiero morir",)."""
    reduced = pattern
    while _GROUP.search(reduced):
        reduced = _GROUP.sub("  ", reduced)
    if "|" in reduced:  # a top-level alternation: no piece is required
        return ()
    # Whatever is optional or a class splits the literal: "can'?t go" -> "can", "t go".
    pieces = [p.strip() for p in re.split(r"\s{2,}", _ESCAPE.sub("  ", reduced))]
    return tuple(p for p in pieces if len(p) >= 3 and re.fullmatch(r"[a-z0-9' ]+", p))


def normalize(text: str) -> str:
    """Lower-case, without accents or punctuation (apostrophes kept), single spaces."""
    decomposed = unicodedata.normalize("NFKD", text.replace("\u2019", "'").lower())
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    return _SPACES.sub(" ", _NON_WORD.sub(" ", stripped)).strip()


def _load(language: str) -> dict[str, Any]:
    text = resources.files("kura.aletheia.lexicon").joinpath(f"{language}.toml").read_text("utf-8")
    return tomllib.loads(text)


@lru_cache(maxsize=1)
def lexicon() -> _Lexicon:
    """Every language's rules, compiled once."""
    rules: list[_Rule] = []
    negations: set[str] = set()
    reporters: set[str] = set()
    for language in LEXICON_LANGUAGES:
        data = _load(language)
        negations.update(normalize(n) for n in data["negations"])
        reporters.update(data["reporters"])
        blocks = [
            (b, int(b["level"]), risk_for_level(int(b["level"]))) for b in data.get("levels", [])
        ]
        blocks += [(b, 0, Risk[b.get("risk", "MEDIUM")]) for b in data.get("cues", [])]
        for block, level, risk in blocks:
            unless = block.get("unless")
            unless_regex = re.compile(r"\b(?:" + "|".join(unless) + r")\b") if unless else None
            for pattern in block["patterns"]:
                regex = re.compile(rf"\b(?:{pattern})\b")
                rules.append(
                    _Rule(block["name"], level, risk, regex, _anchors(pattern), unless_regex)
                )
    return _Lexicon(
        rules=tuple(rules),
        negations=re.compile(r"\b(?:" + "|".join(map(re.escape, sorted(negations))) + r")\b"),
        reporters=re.compile(r"\b(?:" + "|".join(sorted(reporters)) + r")\b"),
    )


def screen_message(text: str) -> ScreenResult:
    """Screen one message. Negated or reported mentions do not count for the sender."""
    if not text:
        return ScreenResult()
    rules = lexicon()
    text = text[:5000]
    whole = normalize(text)
    candidates = [r for r in rules.rules if all(anchor in whole for anchor in r.anchors)]
    if not candidates:
        return ScreenResult()
    level = 0
    risk = Risk.LOW
    flags: set[str] = set()
    for clause_text in _CLAUSE_SPLIT.split(text):
        clause = normalize(clause_text)
        if not clause:
            continue
        for rule, match in _matches(candidates, clause):
            if rule.unless is not None and rule.unless.search(clause):
                continue
            before = clause[: match.start()]
            if rules.reporters.search(before):
                flags.add("third_party_concern")
                continue
            window = " ".join(before.split()[-NEGATION_WINDOW_WORDS:])
            if rules.negations.search(window):
                continue
            flags.add(rule.flag)
            level = max(level, rule.level)
            risk = max(risk, rule.risk)
    return ScreenResult(level=level, risk=risk, flags=tuple(sorted(flags)))


def _matches(candidates: list[_Rule], clause: str) -> list[tuple[_Rule, re.Match[str]]]:
    return [(rule, match) for rule in candidates for match in rule.regex.finditer(clause)]
