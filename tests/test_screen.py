"""The immediate screen: tiers, negation, reported speech, idioms, and the labelled corpus."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kura.aletheia.screen import Risk, screen_message

DATA = Path(__file__).parent / "data"


@pytest.mark.parametrize(
    ("text", "level", "risk"),
    [
        ("Ojalá no despertarme mañana", 1, Risk.HIGH),
        ("Quiero morirme", 2, Risk.HIGH),
        ("He pensado en tomarme todas las pastillas", 3, Risk.HIGH),
        ("Voy a matarme", 4, Risk.CRITICAL),
        ("Tengo un plan para matarme, esta noche lo hago", 5, Risk.CRITICAL),
        ("Ya he escrito la carta de despedida", 6, Risk.CRITICAL),
        ("I wish I was dead", 1, Risk.HIGH),
        ("I want to kill myself", 2, Risk.HIGH),
        ("I'm going to kill myself", 4, Risk.CRITICAL),
        ("I wrote a suicide note", 6, Risk.CRITICAL),
    ],
)
def test_columbia_tiers(text: str, level: int, risk: Risk) -> None:
    result = screen_message(text)
    assert (result.level, result.risk) == (level, risk)
    assert result.needs_alert


@pytest.mark.parametrize(
    "text",
    ["QUIERO MORIRME", "quiero morirme!!!", "Quiero   morirme 😢", "quiéro morírme", "Q U I E R O"],
)
def test_case_accents_spacing_and_emoji_do_not_matter(text: str) -> None:
    expected = text != "Q U I E R O"
    assert screen_message(text).needs_alert is expected


def test_negation_and_reported_speech_do_not_count_for_the_sender() -> None:
    assert not screen_message("No quiero morir").needs_alert
    assert not screen_message("I would never kill myself").needs_alert
    reported = screen_message("Mi amiga me dijo: me quiero morir")
    assert not reported.needs_alert and "third_party_concern" in reported.flags
    # A negation in another clause does not hide a later first-person statement.
    assert screen_message("No sé, quiero morirme").needs_alert


def test_crisis_cues_from_the_original_system() -> None:
    for text in ("Estoy sin salida", "Oscuridad eterna", "Escucho voces", "Dejé la medicación"):
        assert screen_message(text).needs_alert, text
    assert not screen_message("Dejé la medicación con permiso de mi psiquiatra").needs_alert


def test_the_screen_only_raises_on_empty_or_benign_text() -> None:
    assert screen_message("") == screen_message("Hola") == screen_message("😀")
    assert screen_message("x" * 100_000).risk == Risk.LOW


def _rates(path: Path) -> tuple[float, float, list[str]]:
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    positives = [r for r in rows if r["high"]]
    negatives = [r for r in rows if not r["high"]]
    missed = [r["text"] for r in positives if not screen_message(r["text"]).needs_alert]
    alarms = [r["text"] for r in negatives if screen_message(r["text"]).needs_alert]
    return 1 - len(missed) / len(positives), len(alarms) / len(negatives), missed + alarms


def test_recall_and_false_alarms_on_the_labelled_corpus() -> None:
    recall, false_alarms, wrong = _rates(DATA / "screen_corpus.jsonl")
    assert recall >= 0.95, wrong
    assert false_alarms <= 0.05, wrong
