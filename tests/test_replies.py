"""Automatic replies: per level, language and country, emergency numbers always included."""

from __future__ import annotations

import pytest

from kura.aletheia.taxonomy import Risk
from kura.monitoring import replies


def test_every_listed_country_has_an_emergency_number_and_a_source() -> None:
    lines = replies.crisis_lines()
    for country in ("ES", "GB", "IE", "US", "CA", "MX", "AR", "CO", "FR", "DE", "PT", "IT"):
        assert lines[country]["emergency"] and lines[country]["source"], country
        assert lines[country]["crisis"] and lines[country]["crisis_name"], country


@pytest.mark.parametrize(
    ("phone", "country"),
    [("+34612345678", "ES"), ("+447400123456", "GB"), ("+12025550123", "US"), ("", "ES")],
)
def test_country_from_the_phone(phone: str, country: str) -> None:
    assert replies.country_of(phone) == country


def test_critical_says_call_now_and_high_does_not() -> None:
    critical = replies.safety_reply("es", risk=Risk.CRITICAL)
    high = replies.safety_reply("es", risk=Risk.HIGH)
    assert "Llama al 112 ahora" in critical and "Llama al 112 ahora" not in high
    assert "024" in critical and "024" in high
    assert "Tu terapeuta recibirá un aviso." in high  # never "I have told your therapist"


def test_languages_and_countries() -> None:
    assert "Truca al 112 ara" in replies.safety_reply("ca", risk=Risk.CRITICAL)
    english = replies.safety_reply("en", country="US")
    assert "911" in english and "988" in english and "024" not in english
    # A stranger from Mexico is answered in Spanish with Mexico's lines.
    mexico = replies.safety_reply(None, country="MX", alerted=False)
    assert "911" in mexico and "800 911 2000" in mexico and "no puede hacer llegar" in mexico
    # An unlisted country still gets 112.
    assert "112" in replies.safety_reply(None, country="JP")


def test_a_practices_texts_are_added_never_in_place_of_the_numbers() -> None:
    ack = replies.acknowledgement(
        "es", custom="¡Gracias! Te respondo en horario de consulta.", resources="Mi móvil: 600…"
    )
    assert ack.startswith("¡Gracias!") and "112" in ack and "024" in ack and "Mi móvil" in ack
    assert "112" in replies.not_enrolled("en") and "116 123" in replies.withdrawn(
        "en", country="GB"
    )
