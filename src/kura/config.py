"""Settings: every environment variable and secret the service reads, validated once."""

from __future__ import annotations

import os
import secrets
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import unquote, urlsplit

import platformdirs
from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from kura.errors import ConfigError

Environment = Literal["development", "test", "production"]

# Values that setup scripts and templates use to mean "fill me in". A secret holding one of these
# is treated as absent: production refuses it, `kura config check` reports it.
_PLACEHOLDER_MARKERS = (
    "change_this",
    "changeme",
    "change-me",
    "placeholder",
    "replace_me",
    "replace-me",
    "set_me",
    "set-me",
    "your_",
    "your-",
    "xxxx",
)


def is_placeholder(value: str | None) -> bool:
    """True for empty values and the usual fill-me-in markers."""
    if value is None or not value.strip():
        return True
    lowered = value.strip().lower()
    return any(marker in lowered for marker in _PLACEHOLDER_MARKERS) or lowered in {"todo", "none"}


def secret_value(secret: SecretStr | None) -> str | None:
    """The plain value of an optional secret, or None when unset or a placeholder."""
    if secret is None:
        return None
    value = secret.get_secret_value()
    return None if is_placeholder(value) else value


class Settings(BaseSettings):
    """The whole configuration. Field names map to upper-case environment variables."""

    model_config = SettingsConfigDict(env_file=None, extra="ignore", frozen=True)

    environment: Environment = "development"
    port: int = Field(default=8000, ge=1, le=65535)
    host: str | None = None
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_format: Literal["json", "console"] | None = None
    kura_data_dir: Path = Field(default_factory=lambda: Path(platformdirs.user_data_dir("kura")))
    kura_run_worker: bool = True
    # Connections per instance: web pool + overflow + job queue pool (+2 for a backup's tools).
    # scripts/deploy.sh checks them against the Cloud SQL tier's limit (docs/ops).
    db_pool_size: int = Field(default=5, ge=1, le=100)
    db_max_overflow: int = Field(default=5, ge=0, le=100)
    job_pool_size: int = Field(default=4, ge=2, le=100)

    database_url: SecretStr | None = None
    db_password: SecretStr | None = None
    secret_key: SecretStr | None = None

    access_token_expire_minutes: int = Field(default=60 * 24 * 7, ge=5, le=60 * 24 * 30)
    # Proxies in front of the app that append to X-Forwarded-For (Cloud Run: 1).
    trusted_proxy_hops: int = Field(default=0, ge=0, le=5)

    # Every request body is refused with 413 above this size (the webhook has a lower one);
    # a client that stops sending mid-body is answered 408 after the timeout.
    max_request_body_bytes: int = Field(default=1024 * 1024, ge=1024, le=100 * 1024 * 1024)
    request_body_timeout_seconds: float = Field(default=30.0, gt=0, le=600)
    request_header_timeout_seconds: float = Field(default=10.0, gt=0, le=600)
    api_docs: bool | None = None  # /docs and the OpenAPI JSON; default off in production

    public_base_url: str | None = None
    # Where emailed links land: the workspace's pages. Unset => PUBLIC_BASE_URL (or this
    # server on 127.0.0.1) + "/app"; an explicit FRONTEND_URL still wins.
    frontend_url: str = ""
    backend_cors_origins: Annotated[list[str], NoDecode] = Field(default_factory=list)

    stripe_secret_key: SecretStr | None = None
    stripe_webhook_secret: SecretStr | None = None
    stripe_price_id_pro: str | None = None
    stripe_price_id_center: str | None = None
    stripe_api_base: str | None = None  # tests point the SDK at a local fake Stripe

    twilio_account_sid: str | None = None
    twilio_auth_token: SecretStr | None = None
    twilio_whatsapp_number: str | None = None
    twilio_api_base: str | None = None  # tests point the SDK at a local fake Twilio
    twilio_sms_number: str | None = None  # the sender of escalation SMS

    openai_api_key: SecretStr | None = None
    openai_transcription_model: str = "whisper-1"
    openai_base_url: str | None = None  # tests point the SDK at a local fake
    openai_tts_model: str = "gpt-4o-mini-tts"
    openai_tts_voice: str = "alloy"
    briefing_hour: int = Field(default=7, ge=0, le=23)  # local time of the morning pre-generation
    google_api_key: SecretStr | None = None
    gemini_model: str = "gemini-2.5-flash"
    gemini_base_url: str | None = None  # tests point the SDK at a local fake
    # Vertex AI instead of the Gemini API, same code path (kura/ai/gemini.py): the region keeps
    # prompts and answers in the EU; credentials are the service account's (ADC), not a key.
    google_genai_use_vertexai: bool = False
    google_cloud_location: str = Field(default="europe-west1", pattern=r"^[a-z0-9-]+$")
    monitoring_ack_window_hours: int = Field(default=12, ge=0, le=24 * 7)
    monitoring_analysis_delay_minutes: int = Field(default=10, ge=0, le=24 * 60)
    alert_escalation_minutes: int = Field(default=15, ge=1, le=24 * 60)
    # An unpaid public booking holds its time this long, then the time is free again.
    booking_hold_minutes: int = Field(default=15, ge=1, le=24 * 60)
    # Hours before a confirmed booking when reminders go out (each once, by email and, for
    # patients enrolled in WhatsApp, by WhatsApp): "48,24".
    booking_reminder_hours: Annotated[list[int], NoDecode] = Field(default_factory=lambda: [48, 24])
    # Twilio Content template (HX…) for a WhatsApp reminder outside the 24-hour window, with
    # variables 1 = service, 2 = practice, 3 = date and time. Unset: email only then.
    twilio_reminder_content_sid: str | None = Field(default=None, pattern=r"^HX[0-9a-fA-F]{32}$")
    google_client_id: str | None = None
    google_client_secret: SecretStr | None = None
    google_certs_url: str = "https://www.googleapis.com/oauth2/v1/certs"
    brevo_api_key: SecretStr | None = None
    brevo_api_url: str = "https://api.brevo.com/v3"
    email_from_address: str = "noreply@kuraos.ai"
    email_from_name: str = "KURA OS"

    backup_dir: Path | None = None  # default: KURA_DATA_DIR/backups
    # Signs backup manifests (default: derived from SECRET_KEY, as before it existed). The
    # previous keys, comma-separated, are accepted to verify older backups, never to sign.
    backup_signing_key: SecretStr | None = None
    backup_signing_keys_previous: Annotated[list[SecretStr], NoDecode] = Field(default_factory=list)
    backup_bucket: str | None = None
    backup_retention_count: int = Field(default=30, ge=1, le=10_000)
    backup_prerestore_days: int = Field(default=7, ge=0, le=3650)
    backup_cron: str = "30 3 * * *"  # daily, UTC
    backup_compression_level: int = Field(default=6, ge=1, le=9)
    # A restore keeps the database it replaced this long (for recovery by hand), then drops it.
    backup_retired_database_hours: int = Field(default=24, ge=0, le=24 * 90)
    # A patient or practice export stays downloadable this long, then its file is deleted.
    export_retention_days: int = Field(default=7, ge=1, le=90)
    # Upper bound for one dump, one load of a dump, or one upload/download of a backup file.
    backup_timeout_seconds: int = Field(default=6 * 3600, ge=10, le=48 * 3600)
    pg_bin_dir: Path | None = None  # pg_dump/psql; default: the embedded wheel's, else PATH

    sentry_dsn: SecretStr | None = None
    # The deployed commit (deploy.sh sets it): Sentry's release is kura@VERSION+SHA.
    kura_git_sha: str | None = Field(default=None, pattern=r"^[0-9a-f]{7,40}$")
    sentry_traces_sample_rate: float = Field(default=0.0, ge=0.0, le=1.0)
    google_cloud_project: str | None = None
    # OpenTelemetry spans (kura/tracing.py): off (nothing of it is imported), to Cloud Trace, or
    # printed to stdout (development). The rate is for traces that start here; a sampled or
    # unsampled caller (Cloud Run's traceparent / X-Cloud-Trace-Context) is followed.
    tracing: Literal["off", "cloud-trace", "console"] = "off"
    tracing_sample_rate: float = Field(default=0.1, ge=0.0, le=1.0)

    @field_validator("booking_reminder_hours", mode="before")
    @classmethod
    def _split_hours(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = [item.strip() for item in value.split(",") if item.strip()]
        return value

    @field_validator("booking_reminder_hours")
    @classmethod
    def _sane_hours(cls, value: list[int]) -> list[int]:
        if not all(3 <= hours <= 24 * 14 for hours in value) or len(set(value)) != len(value):
            raise ValueError("each reminder is 3 to 336 hours ahead, each once (e.g. 48,24)")
        return sorted(value, reverse=True)

    @field_validator("backend_cors_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: Any) -> Any:
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                import json

                try:
                    return json.loads(text)
                except json.JSONDecodeError as exc:
                    raise ValueError("must be a JSON list or a comma-separated list") from exc
            return [part.strip() for part in text.split(",") if part.strip()]
        return value

    @field_validator("backup_signing_keys_previous", mode="before")
    @classmethod
    def _split_previous_keys(cls, value: Any) -> Any:
        # Comma-separated (a key never contains a comma: use token_urlsafe or hex keys); empty
        # items and placeholders are dropped, as an unset secret would be.
        if value is None:
            return []
        if isinstance(value, SecretStr):
            value = value.get_secret_value()
        if isinstance(value, str):
            value = value.split(",")
        if isinstance(value, list | tuple):
            plain = [v.get_secret_value() if isinstance(v, SecretStr) else v for v in value]
            return [
                v.strip() if isinstance(v, str) else v
                for v in plain
                if not (isinstance(v, str) and is_placeholder(v))
            ]
        return value

    @field_validator("public_base_url", "frontend_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value.rstrip("/")

    @model_validator(mode="after")
    def _default_frontend_url(self) -> Settings:
        if not self.frontend_url:
            base = self.public_base_url or f"http://127.0.0.1:{self.port}"
            # Settings are frozen; this completes the value once, during validation.
            object.__setattr__(self, "frontend_url", f"{base}/app")
        return self

    @model_validator(mode="after")
    def _vertex_needs_a_project(self) -> Settings:
        if self.google_genai_use_vertexai and is_placeholder(self.google_cloud_project):
            raise ValueError(
                "GOOGLE_GENAI_USE_VERTEXAI is true but GOOGLE_CLOUD_PROJECT is not set: Vertex AI "
                "needs the project id (and GOOGLE_CLOUD_LOCATION, default europe-west1)"
            )
        return self

    @property
    def is_production(self) -> bool:
        return self.environment == "production"

    @property
    def uses_gemini(self) -> bool:
        """Gemini is reachable: Vertex AI (service-account credentials) or an API key."""
        return self.google_genai_use_vertexai or secret_value(self.google_api_key) is not None

    @property
    def serves_api_docs(self) -> bool:
        return self.api_docs if self.api_docs is not None else not self.is_production

    @property
    def uses_embedded_database(self) -> bool:
        return secret_value(self.database_url) is None and not self.is_production

    @property
    def effective_log_format(self) -> Literal["json", "console"]:
        if self.log_format is not None:
            return self.log_format
        return "json" if self.is_production else "console"

    @property
    def bind_host(self) -> str:
        """Cloud Run needs 0.0.0.0; a laptop should not expose the API to its network."""
        if self.host:
            return self.host
        return "0.0.0.0" if self.is_production else "127.0.0.1"  # noqa: S104 - container port

    @cached_property
    def signing_key(self) -> SecretStr:
        """The key that signs sessions; in development one is generated once per data dir."""
        configured = secret_value(self.secret_key)
        if configured is not None:
            return SecretStr(configured)
        if self.is_production:
            raise ConfigError("SECRET_KEY is not set. Set it (Secret Manager secret SECRET_KEY).")
        return SecretStr(_development_secret_key(self.kura_data_dir))

    def production_problems(self) -> list[str]:
        """What stops this configuration from serving production traffic (empty when fine)."""
        problems: list[str] = []
        if not self.is_production:
            return problems
        if secret_value(self.database_url) is None:
            problems.append("DATABASE_URL is missing or a placeholder")
        key = secret_value(self.secret_key)
        if key is None:
            problems.append("SECRET_KEY is missing or a placeholder")
        elif len(key) < 32:
            problems.append("SECRET_KEY is shorter than 32 characters")
        # Optional (unset, manifests are signed with a key derived from SECRET_KEY, as before it
        # existed): requiring it would stop a running deployment at its next start. When set,
        # it must be as strong as SECRET_KEY. `kura config check` warns while it is unset.
        backup_key = secret_value(self.backup_signing_key)
        if backup_key is not None and len(backup_key) < 32:
            problems.append("BACKUP_SIGNING_KEY is shorter than 32 characters")
        return problems

    def secret_values(self) -> list[str]:
        """Every configured secret value, for log redaction."""
        values: list[str] = []
        for name in type(self).model_fields:
            field_value = getattr(self, name)
            secrets_here = field_value if isinstance(field_value, list) else [field_value]
            for secret in secrets_here:
                if isinstance(secret, SecretStr):
                    plain = secret.get_secret_value()
                    if len(plain) >= 6:
                        values.append(plain)
        generated = self.kura_data_dir / "secret_key"  # the development signing key
        if secret_value(self.secret_key) is None and generated.is_file():
            values.append(generated.read_text().strip())
        url_password = urlsplit(secret_value(self.database_url) or "").password
        if url_password and len(url_password) >= 6:
            values.extend({url_password, unquote(url_password)})
        return values


def _development_secret_key(data_dir: Path) -> str:
    path = data_dir / "secret_key"
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    data_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    # O_EXCL: two processes starting at once must end up with the same key.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as handle:
        handle.write(key)
    return key


def load_settings(**overrides: Any) -> Settings:
    """Read settings from the environment; a bad value raises ConfigError naming the variable."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        lines = []
        for error in exc.errors(include_input=False, include_url=False):
            variable = str(error["loc"][0]).upper() if error["loc"] else "settings"
            lines.append(f"{variable}: {error['msg']}")
        raise ConfigError("Invalid configuration — " + "; ".join(lines)) from None
