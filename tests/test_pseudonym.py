"""Pseudonymization before an AI provider: names, phones, emails, URLs, addresses and places out,
the same placeholder for the same person, everything back in the answer; and a held-out set
written before the detector was tuned, never tuned on."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import NotRequired, TypedDict

import pytest

from kura.ai.pseudonym import Pseudonymizer, fold

HELD_OUT = Path(__file__).parent / "data" / "pseudonym_heldout.jsonl"


def _context(patient: str = "María José Fernández Ruiz", *staff: str) -> Pseudonymizer:
    pseudonyms = Pseudonymizer()
    pseudonyms.person(patient, patient=True)
    for name in staff:
        pseudonyms.person(name)
    return pseudonyms


@pytest.mark.parametrize(
    "written",
    [
        "María José",
        "maria jose",
        "MARÍA JOSÉ",
        "Maria-José",
        "María José Fernández Ruiz",
        "Fernández",
        "fernandez ruiz",
        "María",
    ],
)
def test_every_way_of_writing_the_patient_is_the_same_placeholder(written: str) -> None:
    pseudonyms = _context()
    assert (
        pseudonyms.redact(f"Hola, soy {written}, ¿qué tal?") == "Hola, soy [PACIENTE_1], ¿qué tal?"
    )


def test_names_at_sentence_start_in_possessives_and_with_an_unknown_second_surname() -> None:
    pseudonyms = _context("Andrés Vidal", "Laura Gómez")
    assert pseudonyms.redact("Andrés no vino.") == "[PACIENTE_1] no vino."
    assert pseudonyms.redact("Andrés's sister met Laura's dog") == (
        "[PACIENTE_1]'s sister met [PERSONA_1]'s dog"
    )
    assert pseudonyms.redact("Laura Gómez Ibarra llamó") == "[PERSONA_1] llamó"
    assert pseudonyms.redact("de Laura, d'Andrés") == "de [PERSONA_1], d'[PACIENTE_1]"


@pytest.mark.parametrize(
    ("name", "as_word", "as_name"),
    [
        ("Rosa Martín", "El vestido rosa me queda bien", "Rosa me escribió"),
        ("Luz Herrera", "No hay luz en casa", "Hablé con Luz ayer"),
        ("Pilar Gómez", "mi madre es el pilar de la casa", "Pilar dice que sí"),
        ("Paz Moreno", "necesito paz", "se lo dije a Paz"),
        ("Tomás Moreno", "un chico moreno", "el señor Moreno vino"),
    ],
)
def test_a_name_that_is_a_common_word_counts_only_with_a_capital(
    name: str, as_word: str, as_name: str
) -> None:
    pseudonyms = _context(name)
    assert pseudonyms.redact(as_word) == as_word
    assert "[PACIENTE_1]" in pseudonyms.redact(as_name)
    # The full name is never a common word.
    assert pseudonyms.redact(name.lower()) == "[PACIENTE_1]"


def test_phones_emails_urls_handles_addresses_and_places() -> None:
    pseudonyms = _context("Carlos Núñez")
    text = (
        "Mi móvil es 612 34 56 78 (o +34 612345678), el fijo 91-555-12-34; escribe a "
        "carlos.n@gmail.com o mira https://instagram.com/carlos.n y @carlosn_82. "
        "Vivo en la calle Alcalá 45, 3º B, 28009 Madrid, y trabajo en Sevilla."
    )
    redacted = pseudonyms.redact(text)
    for leaked in ("612", "555", "gmail", "instagram", "carlosn_82", "Alcalá", "Madrid", "Sevilla"):
        assert leaked not in redacted, (leaked, redacted)
    # The same phone in two formats is one placeholder.
    assert redacted.count("[TELEFONO_1]") == 2 and "[TELEFONO_2]" in redacted
    assert pseudonyms.restore(redacted).replace("+34 612345678", "612 34 56 78") == text.replace(
        "+34 612345678", "612 34 56 78"
    )


def test_ordinary_numbers_words_and_lowercase_streets_stay() -> None:
    pseudonyms = _context("Carlos Núñez")
    for text in (
        "El 26/11/2026 a las 10:30 pagué 1.250 euros",
        "estuve en la calle con 3 amigos",
        "una granada de postre",
        "tomo 50 mg dos veces al día",
    ):
        assert pseudonyms.redact(text) == text


def test_known_literals_are_replaced_as_written() -> None:
    pseudonyms = _context("Carlos Núñez")
    pseudonyms.literal("cn@example.org", "EMAIL")
    pseudonyms.literal("+34612000111", "TELEFONO")
    redacted = pseudonyms.redact("mi correo CN@example.org, mi número +34612000111")
    assert "example" not in redacted and "612000111" not in redacted


def test_restore_puts_real_names_back_and_leaves_invented_placeholders() -> None:
    pseudonyms = Pseudonymizer()
    lucia = pseudonyms.person("Lucía Romero", patient=True)
    ana = pseudonyms.person("Ana López", spoken="Ana")
    answer = f"Buenos días, {ana}. Revisa a {lucia} y a [PACIENTE_7]; también PACIENTE_1."
    assert pseudonyms.restore(answer) == (
        "Buenos días, Ana. Revisa a Lucía Romero y a [PACIENTE_7]; también Lucía Romero."
    )
    assert pseudonyms.restore("[persona_1] y [LUGAR_3] y [PACIENTE_]") == (
        "Ana y [LUGAR_3] y [PACIENTE_]"
    )


def test_the_same_person_keeps_one_placeholder_across_texts() -> None:
    pseudonyms = _context("Lucía Romero", "Jorge Alonso")
    first = pseudonyms.redact("Jorge y Lucía")
    second = pseudonyms.redact("lucia romero, jorge alonso")
    assert first == "[PERSONA_1] y [PACIENTE_1]"
    assert second == "[PACIENTE_1], [PERSONA_1]"


def test_unknown_people_with_common_given_names_are_replaced() -> None:
    redacted = Pseudonymizer().redact("Mi ex, Daniel Ortega, no para de escribirme")
    assert "Daniel" not in redacted and "Ortega" not in redacted


def test_fold_keeps_lengths_and_tells_n_from_ñ() -> None:
    for text in ("María Peña", "ÀÉÎÕÜ", "Núria i Çelik"):
        assert len(fold(text)) == len(text)
    assert fold("Peña") == "peña" and fold("Ángel") == "angel"


class HeldOutCase(TypedDict):
    text: str
    patient: str
    staff: NotRequired[list[str]]
    sensitive: list[str]
    keep: list[str]


def _held_out() -> list[HeldOutCase]:
    return [json.loads(line) for line in HELD_OUT.read_text().splitlines() if line.strip()]


def held_out_recall() -> tuple[int, int, list[str]]:
    """(removed, total, misses): a sensitive string counts as removed when it no longer
    appears as a whole word in the redacted sentence (accents and case ignored)."""
    removed = total = 0
    misses: list[str] = []
    for case in _held_out():
        pseudonyms = Pseudonymizer()
        pseudonyms.person(str(case["patient"]), patient=True)
        for name in case.get("staff", []):
            pseudonyms.person(name)
        redacted = fold(pseudonyms.redact(str(case["text"])))
        for sensitive in case["sensitive"]:
            total += 1
            if re.search(rf"(?<!\w){re.escape(fold(sensitive))}(?!\w)", redacted):
                misses.append(sensitive)
            else:
                removed += 1
    return removed, total, misses


def test_held_out_recall_and_kept_words() -> None:
    removed, total, misses = held_out_recall()
    print(f"held-out recall {removed}/{total} = {removed / total:.2f}; missed: {misses}")
    assert total == 58
    # A floor below the measured figure (reported in docs/privacy.md), not a tuned target.
    assert removed / total >= 0.85, misses
    for case in _held_out():
        pseudonyms = Pseudonymizer()
        pseudonyms.person(str(case["patient"]), patient=True)
        redacted = pseudonyms.redact(str(case["text"]))
        for word in case["keep"]:
            assert word in redacted, (word, redacted)
