"""The texts the catalogue serves: counts agree in number, every email renders in both
languages with nothing left unfilled."""

from __future__ import annotations

import re
from datetime import date, time
from decimal import Decimal
from typing import Any

import pytest

from kura.briefings.content import BriefingFacts
from kura.briefings.script import spoken_date, spoken_income, template_script
from kura.i18n import LANGUAGES, catalogue, text
from kura.notify.templates import password_link_email

_LEFTOVER = re.compile(r"\{[a-z_]*\}")


def _facts(language: str, **counts: Any) -> BriefingFacts:
    return BriefingFacts(
        day=date(2026, 12, 2), language=language, first_name="Ana", clinical=False, **counts
    )


@pytest.mark.parametrize(
    ("language", "count", "expected"),
    [
        ("es", 1, "Tienes una cita hoy."),
        ("es", 2, "Tienes 2 citas hoy."),
        ("en", 1, "You have one appointment today."),
        ("en", 2, "You have 2 appointments today."),
    ],
)
def test_the_agenda_without_a_first_time_agrees_in_number(
    language: str, count: int, expected: str
) -> None:
    assert expected in template_script(_facts(language, appointments=count))


@pytest.mark.parametrize(
    ("language", "one", "two"),
    [
        (
            "es",
            "Hay una alerta de riesgo pendiente;",
            "Hay 2 alertas de riesgo pendientes;",
        ),
        ("en", "There is one pending risk alert;", "There are 2 pending risk alerts;"),
    ],
)
def test_pending_alerts_agree_in_number(language: str, one: str, two: str) -> None:
    assert one in template_script(_facts(language, open_alerts=1))
    assert two in template_script(_facts(language, open_alerts=2))
    assert "1 alertas" not in template_script(_facts(language, open_alerts=1))


@pytest.mark.parametrize(
    ("language", "one", "two"),
    [
        ("es", "Tienes un asunto pendiente por revisar.", "Tienes 2 asuntos pendientes"),
        ("en", "You have one pending item to review.", "You have 2 pending items"),
    ],
)
def test_pending_items_agree_in_number(language: str, one: str, two: str) -> None:
    assert one in template_script(_facts(language, pending_items=1))
    assert two in template_script(_facts(language, pending_items=2))


def test_risks_still_come_first_and_name_at_most_three() -> None:
    facts = BriefingFacts(
        day=date(2026, 12, 2),
        language="es",
        first_name="Ana",
        clinical=True,
        appointments=2,
        first_appointment=time(9, 30),
        risk_patients=["Lucía", "Marta", "Íñigo", "Pau", "Sara"],
        open_alerts=5,
    )
    script = template_script(facts)
    assert "de Lucía, Marta y Íñigo, y 2 más." in script
    assert script.index("alertas de riesgo") < script.index("citas")


@pytest.mark.parametrize(
    ("language", "spoken"),
    [("es", "miércoles, 2 de diciembre"), ("en", "Wednesday, December 2")],
)
def test_the_date_is_spoken_in_the_language(language: str, spoken: str) -> None:
    assert spoken_date(_facts(language)) == spoken


def test_income_names_each_currency() -> None:
    facts = _facts("es", income_24h={"eur": Decimal("60"), "usd": Decimal("20"), "jpy": 5})
    assert spoken_income(facts, "es") == "60.00 euros, 20.00 dólares estadounidenses y 5.00 JPY"
    assert spoken_income(facts, "en") == "60.00 euros, 20.00 US dollars and 5.00 JPY"


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("purpose", ["RESET", "INVITE", "VERIFY"])
def test_every_account_email_renders_filled(language: str, purpose: str) -> None:
    email = password_link_email(
        purpose=purpose,
        locale=language,
        to="ana@example.com",
        name="Ana",
        org="Consulta Alba",
        link="https://kura.example/x?token=t",
    )
    assert email.subject and "https://kura.example/x?token=t" in email.text
    assert not _LEFTOVER.search(email.subject + email.text)


def test_an_unknown_locale_gets_spanish_and_names_stay_defanged() -> None:
    email = password_link_email(
        purpose="INVITE",
        locale="fr",
        to="ana@example.com",
        name="Ana",
        org="Visit evil.example",
        link="https://kura.example/i",
    )
    assert email.subject == "Invitación a un equipo en KURA OS"
    assert "Alguien te ha invitado" in email.text and "evil[.]example" in email.text


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_booking_email_renders_filled(language: str) -> None:
    values: dict[str, Any] = {
        "service": "Terapia",
        "org": "Consulta Alba",
        "when": "02/12/2026 10:00",
        "hold": "10:15",
        "before": "01/12/2026 10:00",
        "link": "https://kura.example/m",
    }
    keys = [key for key in catalogue(language) if key.startswith("bookings.")]
    assert len(keys) >= 20
    for key in keys:
        rendered = text(language, key, **values)
        assert rendered and not _LEFTOVER.search(rendered), key


@pytest.mark.parametrize(
    ("language", "one", "many"),
    [
        ("es", "lleva un minuto sin que nadie", "lleva 15 minutos sin que nadie"),
        ("en", "acknowledged for a minute.", "acknowledged for 15 minutes."),
    ],
)
def test_the_escalation_notice_agrees_in_number(language: str, one: str, many: str) -> None:
    def notice(minutes: int) -> str:
        return text(language, "alerts.escalation_body", count=minutes, org="Alba", link="L")

    assert one in notice(1) and many in notice(15)
