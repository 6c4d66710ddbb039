"""The screen: normalization, the corrected rule floor (negation and reported-speech scope,
co-occurrence), the classifier combined by max, the conversation window, severity."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kura.aletheia.classifier import CrisisClassifier, classifier, load_spec
from kura.aletheia.rules import screen_rules
from kura.aletheia.screen import Risk, screen_message, screen_text
from kura.aletheia.taxonomy import Flag, to_flag
from kura.aletheia.text import normalize

DATA = Path(__file__).parent / "data"


@pytest.mark.parametrize(
    ("typed", "normalized"),
    [
        ("Q m kiero MORIRRRR 😭😭", "que me quiero morir"),
        ("quiéro morírme!!!", "quiero morirme"),
        ("I dont wanna be here rn", "i don't want to be here right now"),
        ("xq tb toy mal", "porque tambien estoy mal"),
        ("M\u2019agradaria no despertar-me", "m'agradaria no despertar me"),
        ("Col·legi", "collegi"),
    ],
)
def test_normalization_survives_chat_spelling(typed: str, normalized: str) -> None:
    assert normalize(typed) == normalized


@pytest.mark.parametrize(
    "text",
    [
        "sin ti quiero morirme",  # "sin" negates "ti", not the verb
        "mi hermana no sabe que quiero morirme",  # a family word is not reported speech
        "can someone help me, I want to die",
        "No sé si quiero morirme",  # the negation belongs to "sé"
        "I thought I would be better off dead",  # "I thought" is the sender's own
        "q m kiero morir",
        "em vull morir",
    ],
)
def test_first_person_statements_count_for_the_sender(text: str) -> None:
    assert screen_rules(text).risk >= Risk.HIGH, text


@pytest.mark.parametrize(
    "text",
    [
        "No quiero morir",
        "Ya no me quiero morir",
        "I would never kill myself",
        "Nunca he pensado en suicidarme",
        "No estoy pensando en hacerme daño, solo estoy cansada",
        "hace dos años tuve ideas de suicidio",
    ],
)
def test_a_negated_or_resolved_phrase_does_not_count(text: str) -> None:
    assert screen_rules(text).risk < Risk.HIGH, text


def test_reported_speech_needs_someone_elses_verb_of_saying() -> None:
    reported = screen_rules("Mi amiga me dijo: me quiero morir")
    assert reported.risk == Risk.LOW and Flag.THIRD_PARTY_CONCERN in reported.flags
    assert screen_rules("The song goes like, he said I want to die").risk == Risk.LOW
    assert screen_rules("Le dije a mi madre que quiero morirme").risk >= Risk.HIGH


@pytest.mark.parametrize(
    "text",
    [
        "Lo voy a hacer mañana, que los deberes no se hacen solos",
        "El sábado es la despedida de soltera de Marta",
        "Estoy en el puente, hay un atasco enorme",
        "He comprado pastillas para la garganta",
        "Ya lo he decidido: me cambio de trabajo",
        "I bought a rope for the climbing trip",
    ],
)
def test_ordinary_phrases_need_a_death_cue_in_the_message(text: str) -> None:
    assert screen_rules(text).risk < Risk.HIGH, text


def test_the_same_phrases_with_a_death_cue_are_critical() -> None:
    assert screen_rules("Ya no quiero vivir. Lo voy a hacer esta noche").risk == Risk.CRITICAL
    assert screen_rules("He escrito las cartas de despedida, no quiero seguir viviendo").risk == (
        Risk.CRITICAL
    )


@pytest.mark.parametrize(
    ("text", "risk"),
    [
        ("Voy a matarme", Risk.CRITICAL),
        ("Tengo un plan para matarme, esta noche lo hago", Risk.CRITICAL),
        ("Me he tomado toda la caja de pastillas hace una hora", Risk.CRITICAL),
        ("I took the whole bottle of pills an hour ago", Risk.CRITICAL),
        ("Me ha vuelto a pegar y dice que me va a matar si me voy", Risk.CRITICAL),
        ("Quiero morirme", Risk.HIGH),
        ("The voices keep telling me to jump", Risk.HIGH),
        ("He vomitado sangre otra vez y me mareo", Risk.HIGH),
    ],
)
def test_severity_follows_the_tier_or_class(text: str, risk: Risk) -> None:
    assert screen_message(text).risk >= risk, text


def _with_threshold(threshold: float) -> CrisisClassifier:
    """The shipped model with another threshold (1.0: never fires; 0.0: always does)."""
    spec = load_spec()
    spec.update(threshold=threshold, ngram_threshold=threshold, encoder_gate=0.0)
    return CrisisClassifier(spec, classifier().encoder)


def test_the_final_risk_is_the_max_of_rules_and_classifier() -> None:
    silent, eager = _with_threshold(1.01), _with_threshold(0.0)
    # The rules are a floor under a classifier that sees nothing…
    assert screen_text("Voy a matarme", silent).risk == Risk.CRITICAL
    # …and the classifier raises what the rules do not know.
    assert screen_text("hoy todo es gris y ya me da igual", silent).risk == Risk.LOW
    assert screen_text("hoy todo es gris y ya me da igual", eager).risk >= Risk.HIGH
    # A quiet classifier never lowers a rule's CRITICAL; an eager one never lowers it either.
    assert screen_text("Voy a matarme", eager).risk == Risk.CRITICAL


def test_the_classifier_catches_phrasings_no_rule_lists() -> None:
    for text in (
        "ya les deje una carta a mis hijos y regale a mi perro, mañana ya no estare",
        "i've been saving my tablets in a sock, nearly enough now",
        "ja no menjo res des de dilluns i avui m'he desmaiat a la dutxa",
    ):
        assert screen_rules(text).risk < Risk.HIGH, text  # beyond the rules
        assert screen_message(text).needs_alert, text


def test_a_plan_told_over_several_messages_is_a_plan() -> None:
    earlier = ["ya no aguanto esta vida", "ya tengo decidido como"]
    last = "lo voy a hacer el viernes cuando se vayan todos"
    alone = screen_message(last)
    together = screen_message(last, context=earlier, context_risk=Risk.HIGH)
    assert together.risk == Risk.CRITICAL
    if alone.risk < Risk.CRITICAL:
        assert Flag.CONTEXT.value in together.flags
    # Context never lowers, and ordinary context raises nothing.
    assert screen_message("Voy a matarme", context=["hola", "qué tal"]).risk == Risk.CRITICAL
    assert screen_message("nos vemos el martes", context=["gracias", "vale"]).risk == Risk.LOW


def test_empty_huge_and_benign_text() -> None:
    assert screen_message("").risk == Risk.LOW and screen_message("").flags == ()
    assert not screen_message("Hola, ¿me confirmas la cita del jueves?").needs_alert
    assert not screen_message("x" * 100_000).needs_alert


def test_provider_flags_are_mapped_into_the_closed_set() -> None:
    assert to_flag("Ideación Suicida") == Flag.SUICIDAL_IDEATION
    assert to_flag("self-harm") == Flag.SELF_HARM
    assert to_flag("PLAN") == Flag.PLAN
    assert to_flag("something new") == Flag.OTHER


def _rates(path: Path) -> tuple[float, float, list[str]]:
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    positives = [r for r in rows if r["high"]]
    negatives = [r for r in rows if not r["high"]]
    missed = [r["text"] for r in positives if not screen_message(r["text"]).needs_alert]
    alarms = [r["text"] for r in negatives if screen_message(r["text"]).needs_alert]
    return 1 - len(missed) / len(positives), len(alarms) / len(negatives), missed + alarms


def test_the_first_waves_sets_still_pass() -> None:
    """The first wave's two small sets (written with its rules): a regression guard only; the
    measure is the blind split and the external set (docs/aletheia.md)."""
    recall, false_alarms, wrong = _rates(DATA / "screen_corpus.jsonl")
    assert recall >= 0.90 and false_alarms <= 0.15, wrong
    recall, _, wrong = _rates(DATA / "screen_heldout.jsonl")
    assert recall >= 0.90, wrong


def test_every_category_is_a_flag_and_alerts() -> None:
    from kura.aletheia.taxonomy import ALERTING_FLAGS, Category

    assert {Flag(c.value) for c in Category} <= ALERTING_FLAGS
