"""Test harness: one embedded PostgreSQL per session, migrated by Alembic, each test rolled back."""

from __future__ import annotations

import os
import threading
from collections.abc import AsyncIterator, Iterator
from http.server import HTTPServer
from pathlib import Path

import psycopg
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from httpx import ASGITransport, AsyncClient
from psycopg import sql
from pydantic import SecretStr
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, create_async_engine

from kura.app import create_app
from kura.config import Settings, load_settings
from kura.db.embedded import EmbeddedPostgres
from kura.db.engine import Database
from kura.db.migrate import upgrade_heads
from kura.db.urls import describe, libpq_conninfo
from tests.backup_support import BackupEnv, create_from_template, drop, open_env
from tests.factories import Member, make_owner
from tests.stripe_support import WHSEC, FakeStripe

# The developer's own environment must not leak into tests (a real DATABASE_URL, say).
for _name in list(os.environ):
    if _name in {n.upper() for n in Settings.model_fields}:
        del os.environ[_name]


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("kura-data")


@pytest.fixture(scope="session")
def pg_server(data_dir: Path) -> Iterator[EmbeddedPostgres]:
    server = EmbeddedPostgres(data_dir, database="kura_test")
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def db_url(pg_server: EmbeddedPostgres) -> URL:
    url = pg_server.url()
    upgrade_heads(url)
    return url


@pytest.fixture(scope="session")
def settings(db_url: URL, data_dir: Path) -> Settings:
    return load_settings(
        environment="test",
        database_url=describe(db_url, show_password=True),
        kura_data_dir=data_dir,
        kura_run_worker=False,
    )


@pytest.fixture(scope="session")
async def engine(db_url: URL) -> AsyncIterator[AsyncEngine]:
    engine = create_async_engine(db_url)
    yield engine
    await engine.dispose()


@pytest.fixture
async def connection(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """A connection inside a transaction that is rolled back after the test."""
    async with engine.connect() as conn:
        transaction = await conn.begin()
        try:
            yield conn
        finally:
            await transaction.rollback()


@pytest.fixture
def database(connection: AsyncConnection) -> Database:
    return Database.for_connection(connection)


@pytest.fixture
async def session(database: Database) -> AsyncIterator[AsyncSession]:
    async with database.sessionmaker() as session:
        yield session


@pytest.fixture
def app(settings: Settings, database: Database) -> FastAPI:
    return create_app(settings, database=database)


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[AsyncClient]:
    async with (
        LifespanManager(app) as manager,
        AsyncClient(transport=ASGITransport(manager.app), base_url="http://test") as client,
    ):
        yield client


@pytest.fixture
def empty_db(pg_server: EmbeddedPostgres) -> Iterator[URL]:
    """A brand-new empty database on the session's server, dropped afterwards."""
    name = "kura_migration_check"
    admin = libpq_conninfo(pg_server.url().set(database="postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    yield pg_server.url().set(database=name)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.fixture
async def owner(session: AsyncSession, settings: Settings) -> Member:
    return await make_owner(session, settings)


@pytest.fixture(scope="session")
def template_db(db_url: URL) -> str:
    """A migrated, empty database that backup tests clone (CREATE DATABASE … TEMPLATE)."""
    name = "kura_template"
    admin = libpq_conninfo(db_url.set(database="postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    upgrade_heads(db_url.set(database=name))
    return name


@pytest.fixture
async def backup_env(db_url: URL, template_db: str, tmp_path: Path) -> AsyncIterator[BackupEnv]:
    url = create_from_template(db_url, "kura_bk", template_db)
    try:
        async for env in open_env(url, tmp_path / "data"):
            yield env
    finally:
        drop(url)


@pytest.fixture
def stripe_settings(settings: Settings) -> Iterator[Settings]:
    """Settings whose Stripe is the local fake (tests/stripe_support.py)."""
    FakeStripe.requests, FakeStripe.intents, FakeStripe.connect_enabled = [], {}, True
    FakeStripe.sessions = {}
    server = HTTPServer(("127.0.0.1", 0), FakeStripe)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield settings.model_copy(
        update={
            "stripe_secret_key": SecretStr("sk_test_fake_0123456789"),
            "stripe_webhook_secret": SecretStr(WHSEC),
            "stripe_api_base": f"http://127.0.0.1:{server.server_address[1]}",
            "stripe_price_id_pro": "price_pro_test",
            "stripe_price_id_center": "price_center_test",
        }
    )
    server.shutdown()


@pytest.fixture
async def pay(stripe_settings: Settings, database: Database) -> AsyncIterator[AsyncClient]:
    app = create_app(stripe_settings, database=database)
    async with (
        LifespanManager(app),
        AsyncClient(transport=ASGITransport(app), base_url="http://test") as client,
    ):
        yield client
