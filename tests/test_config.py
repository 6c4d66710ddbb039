"""Settings: production refuses bad secrets; development generates its own key once."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from kura.app import create_app
from kura.config import is_placeholder, load_settings
from kura.errors import ConfigError

GOOD_KEY = "k" * 40
GOOD_URL = "postgresql://kura_app:pw@/kuraosbd?host=/cloudsql/p:r:i"


@pytest.mark.parametrize(
    ("overrides", "variable"),
    [
        ({"database_url": GOOD_URL}, "SECRET_KEY"),
        ({"database_url": GOOD_URL, "secret_key": "CHANGE_THIS_IN_PRODUCTION"}, "SECRET_KEY"),
        ({"database_url": GOOD_URL, "secret_key": "short"}, "SECRET_KEY"),
        ({"secret_key": GOOD_KEY}, "DATABASE_URL"),
        ({"secret_key": GOOD_KEY, "database_url": "PLACEHOLDER"}, "DATABASE_URL"),
    ],
)
def test_production_refuses_to_start_naming_the_variable(
    overrides: dict[str, str], variable: str, tmp_path: Path
) -> None:
    settings = load_settings(environment="production", kura_data_dir=tmp_path, **overrides)
    with pytest.raises(ConfigError, match=variable):
        create_app(settings)


def test_production_with_real_values_builds_an_app(tmp_path: Path) -> None:
    settings = load_settings(
        environment="production", secret_key=GOOD_KEY, database_url=GOOD_URL, kura_data_dir=tmp_path
    )
    assert settings.production_problems() == []
    assert create_app(settings).title == "KURA OS API"


def test_development_secret_key_is_generated_once_and_kept_private(tmp_path: Path) -> None:
    first = load_settings(environment="development", kura_data_dir=tmp_path).signing_key
    second = load_settings(environment="development", kura_data_dir=tmp_path).signing_key
    assert first.get_secret_value() == second.get_secret_value()
    assert len(first.get_secret_value()) >= 32
    mode = stat.S_IMODE((tmp_path / "secret_key").stat().st_mode)
    assert mode == 0o600
    other = load_settings(environment="development", kura_data_dir=tmp_path / "other")
    assert other.signing_key.get_secret_value() != first.get_secret_value()


def test_production_never_generates_a_key(tmp_path: Path) -> None:
    settings = load_settings(environment="production", kura_data_dir=tmp_path)
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        _ = settings.signing_key
    assert not (tmp_path / "secret_key").exists()


def test_invalid_value_names_the_variable_but_not_the_value(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PORT", "eighty-eighty")
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert "PORT" in str(caught.value)
    assert "eighty-eighty" not in str(caught.value)


def test_cors_origins_accept_commas_or_json(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BACKEND_CORS_ORIGINS", "https://app.kuraos.ai, https://kuraos.ai")
    assert load_settings().backend_cors_origins == ["https://app.kuraos.ai", "https://kuraos.ai"]
    monkeypatch.setenv("BACKEND_CORS_ORIGINS", '["https://app.kuraos.ai"]')
    assert load_settings().backend_cors_origins == ["https://app.kuraos.ai"]


def test_secrets_are_never_in_the_settings_repr(tmp_path: Path) -> None:
    settings = load_settings(secret_key=GOOD_KEY, stripe_secret_key="sk_live_abcdef123456")
    assert GOOD_KEY not in repr(settings)
    assert "sk_live_abcdef123456" not in repr(settings)


@pytest.mark.parametrize(
    "value", ["", "  ", "CHANGE_THIS_IN_PRODUCTION", "placeholder-set-me", "todo"]
)
def test_placeholders(value: str) -> None:
    assert is_placeholder(value)


def test_a_real_looking_value_is_not_a_placeholder() -> None:
    assert not is_placeholder("sk_live_51Habc")
