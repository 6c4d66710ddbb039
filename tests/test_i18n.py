"""The catalogue: every language has every key, with the same placeholders and plural forms."""

from __future__ import annotations

import string

import pytest

from kura.i18n import LANGUAGES, PATIENT_AREAS, PATIENT_LANGUAGES, catalogue, language, text


def _fields(value: str | dict[str, str]) -> dict[str, set[str]]:
    forms = value if isinstance(value, dict) else {"": value}
    return {
        form: {name for _, name, _, _ in string.Formatter().parse(template) if name}
        for form, template in forms.items()
    }


def test_every_language_has_the_same_keys_and_placeholders() -> None:
    reference = catalogue("es")
    for lang in LANGUAGES:
        texts = catalogue(lang)
        assert set(texts) == set(reference), lang
        for key, value in texts.items():
            assert _fields(value).keys() == _fields(reference[key]).keys(), key
            for form, names in _fields(value).items():
                # a translation may drop {count} ("one session") but never invent a field
                assert names - {"count"} <= _fields(reference[key])[form] | {"count"}, key


def test_language_tags_fall_back_to_spanish() -> None:
    assert language("en-GB") == "en"
    assert language("EN_us") == "en"
    assert language("fr") == "es"
    assert language(None) == "es"


def test_a_counted_text_needs_its_count() -> None:
    counted = [key for key, value in catalogue("es").items() if isinstance(value, dict)]
    if not counted:
        pytest.skip("no counted text in the catalogue yet")
    with pytest.raises(TypeError):
        text("es", counted[0])


def test_every_patient_language_has_every_text_patients_read() -> None:
    for area in PATIENT_AREAS:
        reference = {k: v for k, v in catalogue("es").items() if k.startswith(f"{area}.")}
        assert reference, area
        for lang in PATIENT_LANGUAGES:
            texts = {k: v for k, v in catalogue(lang).items() if k.startswith(f"{area}.")}
            assert set(texts) == set(reference), (lang, area)
            for key, value in texts.items():
                assert _fields(value) == _fields(reference[key]), (lang, key)


def test_a_patient_language_answers_only_in_patient_areas() -> None:
    assert "teva vida" in text("ca", "replies.lines", emergency="112")
    assert text("ca", "app.sign_in") == text("es", "app.sign_in")  # the UI falls back
