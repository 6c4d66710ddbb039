"""Where the database is: DATABASE_URL when set, otherwise the embedded server."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.engine import URL

from kura.config import Settings, secret_value
from kura.db.embedded import EmbeddedPostgres
from kura.db.urls import normalize_database_url
from kura.errors import ConfigError


def configured_url(settings: Settings) -> URL | None:
    """The normalised DATABASE_URL, or None when the embedded database is meant."""
    raw = secret_value(settings.database_url)
    if raw is None:
        if settings.is_production:
            raise ConfigError("DATABASE_URL is not set; production has no embedded database.")
        return None
    return normalize_database_url(raw, password=secret_value(settings.db_password))


def embedded_server(settings: Settings) -> EmbeddedPostgres:
    return EmbeddedPostgres(settings.kura_data_dir)


@contextmanager
def database_url(settings: Settings) -> Iterator[URL]:
    """Yield a usable URL; starts (and afterwards releases) the embedded server if needed."""
    url = configured_url(settings)
    if url is not None:
        yield url
        return
    server = embedded_server(settings)
    try:
        yield server.start()
    finally:
        server.stop()
