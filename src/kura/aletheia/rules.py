"""The rule floor: phrases a clinician can read and change (lexicon/*.toml), ≤ 1 ms a message.

A phrase does not count for the sender when the verb it starts with is negated ("no quiero
morir", not "sin ti quiero morir"), or when it follows someone else's verb of saying or
thinking ("mi amiga dijo que…", not "mi hermana no sabe que quiero morirme"). Phrases that are
ordinary on their own ("lo voy a hacer", "carta de despedida") count only in a message that
also speaks of death or self-harm, and a phrase told as resolved history in its clause ("hace
dos años tuve ideas de suicidio") does not count either.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

from kura.aletheia.taxonomy import LEVELS, Category, Flag, Risk, risk_for
from kura.aletheia.text import normalize

LEXICON_LANGUAGES = ("es", "en", "ca")
MAX_WORDS_BETWEEN_NEGATION_AND_VERB = 4
FIRST_PERSON = frozenset({"i", "yo", "jo", "we", "nosotros", "nosaltres"})
_CLAUSE_SPLIT = re.compile(r"[.!?;,\n]+|\s(?:pero|but|aunque|although|pero|perque)\s")


@dataclass(frozen=True)
class RuleHit:
    level: int = 0
    risk: Risk = Risk.LOW
    flags: frozenset[Flag] = frozenset()
    category: Category | None = None


@dataclass(frozen=True)
class _Rule:
    flag: Flag
    category: Category | None
    level: int
    risk: Risk
    regex: re.Pattern[str]
    needs_death_cue: bool
    unless: re.Pattern[str] | None


@dataclass(frozen=True)
class _Lexicon:
    rules: tuple[_Rule, ...]
    negations: frozenset[str]
    between: frozenset[str]
    reporting: re.Pattern[str]
    resolved: re.Pattern[str]
    death_cues: re.Pattern[str]


def _alternation(patterns: list[str]) -> re.Pattern[str]:
    return re.compile(r"\b(?:" + "|".join(patterns) + r")\b")


def _load(language: str) -> dict[str, Any]:
    text = resources.files("kura.aletheia.lexicon").joinpath(f"{language}.toml").read_text("utf-8")
    return tomllib.loads(text)


def _rules(block: dict[str, Any], *, cue: bool) -> list[_Rule]:
    flag = Flag(block["name"])
    if cue:
        category, level, risk = None, 0, Risk[block.get("risk", "MEDIUM")]
    else:
        category = Category(block["name"])
        level, risk = LEVELS.get(category, 0), risk_for(category)
    unless = _alternation(block["unless"]) if block.get("unless") else None
    needs_cue = bool(block.get("needs_death_cue", False))
    return [
        _Rule(flag, category, level, risk, _alternation([p]), needs_cue, unless)
        for p in block["patterns"]
    ]


@lru_cache(maxsize=1)
def lexicon() -> _Lexicon:
    """Every language's rules, compiled once (patients mix languages: all apply)."""
    rules: list[_Rule] = []
    negations: set[str] = set()
    between: set[str] = set()
    reporting: list[str] = []
    resolved: list[str] = []
    cues: list[str] = []
    for language in LEXICON_LANGUAGES:
        data = _load(language)
        negations.update(data["negations"])
        between.update(data["between"])
        reporting += data["reporting_verbs"]
        resolved += data["resolved"]
        cues += data["death_cues"]
        for block in data.get("levels", []):
            rules += _rules(block, cue=False)
        for block in data.get("cues", []):
            rules += _rules(block, cue=True)
    return _Lexicon(
        tuple(rules),
        frozenset(negations),
        frozenset(between),
        _alternation(reporting),
        _alternation(resolved),
        _alternation(cues),
    )


def _negated(before: list[str], lex: _Lexicon) -> bool:
    """A negation right before the phrase, or with only clitics/auxiliaries between."""
    for skipped, word in enumerate(reversed(before)):
        if word in lex.negations:
            return True
        if word not in lex.between or skipped >= MAX_WORDS_BETWEEN_NEGATION_AND_VERB:
            return False
    return False


def _reported(before: str, lex: _Lexicon) -> bool:
    """Someone else's verb of saying or thinking earlier in the clause ("she said that")."""
    for match in lex.reporting.finditer(before):
        previous = before[: match.start()].split()[-1:]
        if not previous or previous[0] not in FIRST_PERSON:
            return True
    return False


def screen_rules(text: str) -> RuleHit:
    """The rules' verdict on one text (a message, or a short conversation joined)."""
    if not text:
        return RuleHit()
    lex = lexicon()
    text = text[:5000]
    whole = normalize(text)
    has_death_cue = lex.death_cues.search(whole) is not None
    best: _Rule | None = None
    level = 0
    flags: set[Flag] = set()
    for clause_text in _CLAUSE_SPLIT.split(text):
        clause = normalize(clause_text)
        if not clause:
            continue
        for rule in lex.rules:
            if rule.needs_death_cue and not has_death_cue:
                continue
            for match in rule.regex.finditer(clause):
                if rule.unless is not None and rule.unless.search(clause):
                    break
                before = clause[: match.start()]
                if _reported(before, lex):
                    flags.add(Flag.THIRD_PARTY_CONCERN)
                    continue
                if _negated(before.split(), lex) or lex.resolved.search(clause):
                    continue
                flags.add(rule.flag)
                level = max(level, rule.level)
                if best is None or (rule.risk, rule.level) > (best.risk, best.level):
                    best = rule
    if best is None:
        return RuleHit(flags=frozenset(flags))
    return RuleHit(level, best.risk, frozenset(flags), best.category)
