"""The briefing reads income per currency: amounts in different currencies are never added."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from kura.briefings.content import BriefingFacts
from kura.briefings.script import template_script


def _facts(language: str, income: dict[str, Decimal]) -> BriefingFacts:
    return BriefingFacts(
        day=date(2026, 12, 2), language=language, first_name="Ana", clinical=True, income_24h=income
    )


def test_each_currency_is_read_on_its_own() -> None:
    income = {"eur": Decimal("60.00"), "usd": Decimal("20.50"), "sek": Decimal("100")}
    spanish = template_script(_facts("es", income))
    assert "60.00 euros, 20.50 dólares estadounidenses y 100.00 SEK" in spanish
    english = template_script(_facts("en", income))
    assert "60.00 euros, 20.50 US dollars and 100.00 SEK" in english


def test_no_income_is_said_plainly() -> None:
    assert "No ha habido ingresos" in template_script(_facts("es", {}))
