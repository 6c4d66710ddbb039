"""Database URLs: every accepted form normalised to the one driver the project uses (psycopg 3)."""

from __future__ import annotations

from typing import Any

from psycopg.conninfo import make_conninfo
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from kura.errors import ConfigError

DRIVER = "postgresql+psycopg"
_ACCEPTED_SCHEMES = {
    "postgres",
    "postgresql",
    "postgresql+asyncpg",
    "postgresql+psycopg",
    "postgresql+psycopg2",
}
# asyncpg spells TLS as ?ssl=...; libpq (and so psycopg) as ?sslmode=...
_ASYNCPG_SSL = {
    "true": "require",
    "false": "disable",
    "require": "require",
    "disable": "disable",
    "prefer": "prefer",
    "allow": "allow",
    "verify-ca": "verify-ca",
    "verify-full": "verify-full",
}
_ASYNCPG_ONLY = {"prepared_statement_cache_size", "statement_cache_size", "command_timeout"}
_HINT = (
    "Expected postgresql://USER:PASSWORD@HOST:PORT/DB or, for Cloud SQL, "
    "postgresql+asyncpg://USER:PASSWORD@/DB?host=/cloudsql/PROJECT:REGION:INSTANCE"
)


def normalize_database_url(raw: str, *, password: str | None = None) -> URL:
    """Parse any accepted DATABASE_URL form into a psycopg URL; ConfigError when it is not one.

    `password` (DB_PASSWORD) fills in a URL that carries none.
    """
    try:
        url = make_url(raw.strip())
    except (ArgumentError, ValueError):
        raise ConfigError(f"DATABASE_URL is not a valid URL. {_HINT}") from None
    if url.drivername not in _ACCEPTED_SCHEMES:
        raise ConfigError(
            f"DATABASE_URL uses unsupported scheme '{url.drivername}'. {_HINT}"
        ) from None
    if not url.database:
        raise ConfigError(f"DATABASE_URL names no database. {_HINT}")
    query: dict[str, Any] = {k: v for k, v in url.query.items() if k not in _ASYNCPG_ONLY}
    ssl = query.pop("ssl", None)
    if ssl is not None:
        mode = _ASYNCPG_SSL.get(str(ssl).lower())
        if mode is None:
            raise ConfigError(f"DATABASE_URL has an unknown ssl value '{ssl}'.")
        query.setdefault("sslmode", mode)
    if not url.host and "host" not in query:
        raise ConfigError(f"DATABASE_URL names no host or socket directory. {_HINT}")
    url = url.set(drivername=DRIVER, query=query)
    if url.password is None and password:
        url = url.set(password=password)
    return url


def libpq_conninfo(url: URL) -> str:
    """A libpq keyword/value string for tools that do not speak SQLAlchemy (psycopg pools)."""
    params: dict[str, Any] = dict(url.query)
    if url.host:
        params["host"] = url.host
    if url.port:
        params["port"] = url.port
    if url.username:
        params["user"] = url.username
    if url.password:
        params["password"] = url.password
    params["dbname"] = url.database
    return make_conninfo(**params)


def describe(url: URL, *, show_password: bool = False) -> str:
    """The URL as text; the password is masked unless asked for."""
    return url.render_as_string(hide_password=not show_password)


def where(url: URL) -> str:
    """Host-or-socket and database, for messages that must never contain credentials."""
    host = url.host or url.query.get("host") or "localhost"
    port = f":{url.port}" if url.port else ""
    return f"{host}{port}/{url.database}"
