"""Every error a person can read in the workspace exists in Spanish, with the same values."""

from __future__ import annotations

import re

from kura.i18n.errors import error_texts, localize_error
from tests.error_text_sources import messages

PLACEHOLDER = re.compile(r"\{([a-z0-9_]*)\}")


def test_every_message_in_the_source_has_a_spanish_text() -> None:
    spanish = error_texts("es")
    missing = sorted(
        {f"{where}: {english}" for where, english in messages() if english not in spanish}
    )
    assert not missing, "add to kura/i18n/errors/es.toml:\n" + "\n".join(missing)


def test_the_catalogue_has_no_message_the_source_no_longer_raises() -> None:
    raised = {english for _, english in messages()}
    assert sorted(set(error_texts("es")) - raised) == []


def test_translations_use_only_the_values_the_message_has() -> None:
    # A value may be left out (an English verb or status word inside a Spanish sentence).
    for english, spanish in error_texts("es").items():
        assert set(PLACEHOLDER.findall(spanish)) <= set(PLACEHOLDER.findall(english)), english


def test_a_message_with_values_is_matched_and_its_values_carried_over() -> None:
    local = localize_error("Too many attempts. Try again in 3 minute(s).", "es")
    assert local != "Too many attempts. Try again in 3 minute(s)." and " 3 " in local
    refund = localize_error(
        "amount_cents must be between 1 and 4500 (what is left to refund).", "es"
    )
    assert "4500" in refund and "amount_cents" in refund and "between" not in refund


def test_english_and_unknown_messages_stay_as_they_are() -> None:
    assert localize_error("No such patient.", "en") == "No such patient."
    assert localize_error("Something new we never wrote.", "es") == "Something new we never wrote."
