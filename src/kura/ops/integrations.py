"""What each integration's configuration amounts to: configured, not configured, or invalid.

Never returns a value, only states and reasons, so it can be printed and served.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlsplit

from pydantic import SecretStr

from kura.ai.gemini import gemini_endpoint
from kura.config import Settings, is_placeholder, secret_value
from kura.db.location import embedded_server
from kura.db.urls import normalize_database_url
from kura.errors import ConfigError

State = Literal["configured", "not configured", "invalid"]


@dataclass(frozen=True)
class IntegrationStatus:
    name: str
    state: State
    note: str
    required: bool = False

    @property
    def blocking(self) -> bool:
        return self.required and self.state != "configured"


def _plain(value: str | SecretStr | None) -> str | None:
    if isinstance(value, SecretStr):
        return secret_value(value)
    return None if is_placeholder(value) else value


def _check(
    name: str,
    values: dict[str, str | SecretStr | None],
    *,
    prefixes: dict[str, tuple[str, ...]] | None = None,
    offline: str,
    required: bool = False,
) -> IntegrationStatus:
    present = {key: _plain(value) for key, value in values.items()}
    missing = [key for key, value in present.items() if value is None]
    if len(missing) == len(present):
        return IntegrationStatus(name, "not configured", offline, required)
    if missing:
        return IntegrationStatus(name, "invalid", "missing " + ", ".join(missing), required)
    for key, allowed in (prefixes or {}).items():
        value = present[key]
        if value is not None and not value.startswith(allowed):
            expected = " or ".join(allowed)
            return IntegrationStatus(
                name, "invalid", f"{key} should start with {expected}", required
            )
    return IntegrationStatus(name, "configured", "", required)


def _database(settings: Settings) -> IntegrationStatus:
    raw = secret_value(settings.database_url)
    if raw is None:
        if settings.is_production:
            return IntegrationStatus("database", "not configured", "DATABASE_URL missing", True)
        return IntegrationStatus("database", "configured", "embedded PostgreSQL (data dir)", True)
    try:
        url = normalize_database_url(raw, password=secret_value(settings.db_password))
    except ConfigError as exc:
        return IntegrationStatus("database", "invalid", str(exc), True)
    socket = str(url.query.get("host", ""))
    embedded = embedded_server(settings).running_url()  # `kura serve` passes it as a URL
    if embedded is not None and (embedded.query.get("host"), embedded.port) == (
        url.query.get("host"),
        url.port,
    ):
        kind = "embedded PostgreSQL (data dir)"
    elif socket.startswith("/cloudsql/"):
        kind = "Cloud SQL socket"
    else:
        kind = "external PostgreSQL"
    return IntegrationStatus("database", "configured", kind, True)


def _secret_key(settings: Settings) -> IntegrationStatus:
    key = secret_value(settings.secret_key)
    if key is None:
        if settings.is_production:
            return IntegrationStatus("secret key", "not configured", "SECRET_KEY missing", True)
        return IntegrationStatus("secret key", "configured", "generated in the data dir", True)
    if len(key) < 32:
        return IntegrationStatus("secret key", "invalid", "SECRET_KEY shorter than 32", True)
    return IntegrationStatus("secret key", "configured", "", True)


def _backup_signing_key(settings: Settings) -> IntegrationStatus:
    """Optional: unset, backups are signed with a key derived from SECRET_KEY (a warning)."""
    name = "backup signing key"
    key = secret_value(settings.backup_signing_key)
    if key is None:
        note = "derived from SECRET_KEY"
        if settings.is_production:
            note += ": rotating SECRET_KEY hides backups; set BACKUP_SIGNING_KEY"
        return IntegrationStatus(name, "not configured", note)
    if len(key) < 32:
        return IntegrationStatus(name, "invalid", "BACKUP_SIGNING_KEY shorter than 32")
    if key == secret_value(settings.secret_key):
        return IntegrationStatus(name, "configured", "same value as SECRET_KEY: make it distinct")
    previous = len(settings.backup_signing_keys_previous)
    return IntegrationStatus(name, "configured", f"{previous} previous" if previous else "")


def _url(name: str, variable: str, value: str | None, *, required: bool) -> IntegrationStatus:
    if value is None:
        return IntegrationStatus(name, "not configured", f"{variable} missing", required)
    if required and urlsplit(value).scheme != "https":
        return IntegrationStatus(name, "invalid", f"{variable} must be https", required)
    return IntegrationStatus(name, "configured", "", required)


def _sentry(settings: Settings) -> IntegrationStatus:
    dsn = secret_value(settings.sentry_dsn)
    if dsn is None:
        return IntegrationStatus("sentry", "not configured", "logs only (stdout)")
    parts = urlsplit(dsn)
    if parts.scheme not in {"http", "https"} or not parts.username or not parts.path.strip("/"):
        return IntegrationStatus("sentry", "invalid", "SENTRY_DSN is not a Sentry DSN")
    return IntegrationStatus("sentry", "configured", "")


def _gemini(settings: Settings) -> IntegrationStatus:
    if settings.google_genai_use_vertexai:  # credentials: the service account (ADC)
        return IntegrationStatus("gemini", "configured", gemini_endpoint(settings))
    status = _check("gemini", {"GOOGLE_API_KEY": settings.google_api_key}, offline="offline rules")
    if status.state == "configured":
        return IntegrationStatus("gemini", "configured", gemini_endpoint(settings))
    return status


def integration_statuses(settings: Settings) -> list[IntegrationStatus]:
    """One line per integration, in the order of the seed's secrets table."""
    production = settings.is_production
    return [
        _database(settings),
        _secret_key(settings),
        _backup_signing_key(settings),
        _url("public base url", "PUBLIC_BASE_URL", settings.public_base_url, required=production),
        _check(
            "stripe",
            {
                "STRIPE_SECRET_KEY": settings.stripe_secret_key,
                "STRIPE_WEBHOOK_SECRET": settings.stripe_webhook_secret,
            },
            prefixes={
                "STRIPE_SECRET_KEY": ("sk_live_", "sk_test_", "rk_live_", "rk_test_"),
                "STRIPE_WEBHOOK_SECRET": ("whsec_",),
            },
            offline="payments disabled",
        ),
        _check(
            "stripe prices",
            {
                "STRIPE_PRICE_ID_PRO": settings.stripe_price_id_pro,
                "STRIPE_PRICE_ID_CENTER": settings.stripe_price_id_center,
            },
            prefixes={"STRIPE_PRICE_ID_PRO": ("price_",), "STRIPE_PRICE_ID_CENTER": ("price_",)},
            offline="subscription checkout disabled",
        ),
        _check(
            "twilio whatsapp",
            {
                "TWILIO_ACCOUNT_SID": settings.twilio_account_sid,
                "TWILIO_AUTH_TOKEN": settings.twilio_auth_token,
                "TWILIO_WHATSAPP_NUMBER": settings.twilio_whatsapp_number,
            },
            prefixes={"TWILIO_ACCOUNT_SID": ("AC",)},
            offline="WhatsApp outbox (files)",
        ),
        _check(
            "openai tts",
            {"OPENAI_API_KEY": settings.openai_api_key},
            prefixes={"OPENAI_API_KEY": ("sk-",)},
            offline="espeak-ng speech",
        ),
        _gemini(settings),
        _check(
            "google sign-in",
            {
                "GOOGLE_CLIENT_ID": settings.google_client_id,
                "GOOGLE_CLIENT_SECRET": settings.google_client_secret,
            },
            offline="password sign-in only",
        ),
        _check("brevo email", {"BREVO_API_KEY": settings.brevo_api_key}, offline="email outbox"),
        _sentry(settings),
    ]
