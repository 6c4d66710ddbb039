"""DATABASE_URL forms, all normalised to psycopg; a Unix-socket URL really connects."""

from __future__ import annotations

import psycopg
import pytest
from sqlalchemy import text
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import create_async_engine

from kura.db.urls import describe, libpq_conninfo, normalize_database_url, where
from kura.errors import ConfigError

CLOUD_SQL = "postgresql+asyncpg://kura_app:s3cr%40t@/kuraosbd?host=/cloudsql/kura-os:europe-southwest1:kura-primary"


@pytest.mark.parametrize(
    "raw",
    [
        "postgresql://u:p@db.example:5432/kura",
        "postgres://u:p@db.example:5432/kura",
        "postgresql+asyncpg://u:p@db.example:5432/kura",
        "postgresql+psycopg://u:p@db.example:5432/kura",
        "postgresql+psycopg2://u:p@db.example:5432/kura",
    ],
)
def test_every_accepted_scheme_becomes_psycopg(raw: str) -> None:
    url = normalize_database_url(raw)
    assert url.drivername == "postgresql+psycopg"
    assert (url.host, url.port, url.username, url.password, url.database) == (
        "db.example",
        5432,
        "u",
        "p",
        "kura",
    )


def test_cloud_sql_socket_form_keeps_the_socket_dir() -> None:
    url = normalize_database_url(CLOUD_SQL)
    assert url.drivername == "postgresql+psycopg"
    assert url.query["host"] == "/cloudsql/kura-os:europe-southwest1:kura-primary"
    assert url.password == "s3cr@t"
    info = psycopg.conninfo.conninfo_to_dict(libpq_conninfo(url))
    assert info["host"] == "/cloudsql/kura-os:europe-southwest1:kura-primary"
    assert info["dbname"] == "kuraosbd"
    assert where(url) == "/cloudsql/kura-os:europe-southwest1:kura-primary/kuraosbd"


def test_asyncpg_ssl_becomes_sslmode_and_asyncpg_only_options_are_dropped() -> None:
    url = normalize_database_url(
        "postgresql+asyncpg://u:p@h/kura?ssl=require&prepared_statement_cache_size=0"
    )
    assert dict(url.query) == {"sslmode": "require"}


def test_db_password_fills_a_url_without_one() -> None:
    url = normalize_database_url("postgresql://kura_app@/kuraosbd?host=/cloudsql/x", password="pw")
    assert url.password == "pw"
    # A password already in the URL wins.
    assert normalize_database_url("postgresql://a:mine@h/db", password="pw").password == "mine"


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("not a url", "not a valid URL"),
        ("mysql://u:p@h/db", "unsupported scheme 'mysql'"),
        ("postgresql://u:p@h", "names no database"),
        ("postgresql://u:p@/db", "no host or socket"),
        ("postgresql://u:p@h/db?ssl=maybe", "unknown ssl value"),
    ],
)
def test_malformed_urls_say_what_is_wrong(raw: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as caught:
        normalize_database_url(raw)
    assert ":p@" not in str(caught.value)


def test_password_is_masked_unless_asked() -> None:
    url = normalize_database_url(CLOUD_SQL)
    assert "s3cr" not in describe(url)
    assert "***" in describe(url)
    assert "s3cr%40t" in describe(url, show_password=True)


async def test_unix_socket_url_in_the_cloud_sql_form_connects(db_url: URL) -> None:
    socket_dir = db_url.query["host"]
    raw = f"postgresql+asyncpg://postgres:unused@/{db_url.database}?host={socket_dir}"
    if db_url.port:
        raw += f"&port={db_url.port}"
    engine = create_async_engine(normalize_database_url(raw))
    try:
        async with engine.connect() as conn:
            assert (
                await conn.execute(text("SELECT current_database()"))
            ).scalar() == db_url.database
    finally:
        await engine.dispose()
