"""Shared setup for backup tests: a real, committed database per test (cloned from a migrated
template), an app bound to it, and a superuser."""

from __future__ import annotations

import asyncio
import hashlib
import os
import signal
import subprocess
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psutil
import psycopg
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from httpx import ASGITransport, AsyncClient
from psycopg import sql
from sqlalchemy.engine import URL

from kura.app import create_app
from kura.config import Settings, load_settings
from kura.db.engine import Database
from kura.db.urls import describe, libpq_conninfo
from tests.factories import Member, make_owner, make_patient, make_superuser


@dataclass
class BackupEnv:
    url: URL
    settings: Settings
    database: Database
    client: AsyncClient
    operator: Member
    owner: Member
    app: FastAPI

    def new_client(self, base_url: str = "http://test") -> AsyncClient:
        """A client with a cookie jar of its own (a second browser)."""
        return AsyncClient(transport=ASGITransport(self.app), base_url=base_url)

    @property
    def store_dir(self) -> Path:
        return self.settings.kura_data_dir / "backups"


def admin(url: URL) -> str:
    return libpq_conninfo(url.set(database="postgres"))


def create_from_template(url: URL, name: str, template: str) -> URL:
    with psycopg.connect(admin(url), autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )
        conn.execute(
            sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                sql.Identifier(name), sql.Identifier(template)
            )
        )
    return url.set(database=name)


def drop(url: URL) -> None:
    with psycopg.connect(admin(url), autocommit=True) as conn:
        for row in conn.execute(
            "SELECT datname FROM pg_database WHERE datname LIKE %s", (f"{url.database}%",)
        ).fetchall():
            conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(row[0])))


def table_fingerprints(url: URL) -> dict[str, tuple[int, str]]:
    """Every table's row count and a checksum of its content (order-independent)."""
    result: dict[str, tuple[int, str]] = {}
    with psycopg.connect(libpq_conninfo(url)) as conn:
        tables = conn.execute(
            "SELECT schemaname, tablename FROM pg_tables "
            "WHERE schemaname NOT IN ('pg_catalog', 'information_schema') ORDER BY 1, 2"
        ).fetchall()
        for schema, table in tables:
            ident = sql.SQL("{}.{}").format(sql.Identifier(schema), sql.Identifier(table))
            rows = conn.execute(sql.SQL("SELECT md5(t::text) FROM {} t").format(ident)).fetchall()
            digest = hashlib.sha256("".join(sorted(r[0] for r in rows)).encode()).hexdigest()
            result[f"{schema}.{table}"] = (len(rows), digest)
    return result


async def open_env(url: URL, data_dir: Path, **overrides: object) -> AsyncIterator[BackupEnv]:
    settings = load_settings(
        environment="test",
        database_url=describe(url, show_password=True),
        kura_data_dir=data_dir,
        kura_run_worker=False,
        secret_key="backup-tests-signing-key-0123456789abcdef",
        **overrides,
    )
    database = Database.connect(url)
    async with database.sessionmaker() as session, session.begin():
        operator = await make_owner(session, settings, org_name="Operations")
        await make_superuser(session, settings, operator)
        owner = await make_owner(session, settings)
        for _ in range(3):
            await make_patient(session, owner.organization)
    app = create_app(settings, database=database)
    async with (
        LifespanManager(app),
        AsyncClient(transport=ASGITransport(app), base_url="http://test") as client,
    ):
        yield BackupEnv(url, settings, database, client, operator, owner, app)
    await database.dispose()


@contextmanager
def full_disk(directory: Path, size: str = "64k") -> Iterator[None]:
    """A real filesystem of `size` bytes at `directory` (root only; skipped elsewhere)."""
    directory.mkdir(parents=True, exist_ok=True)
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size},mode=0700", "tmpfs", str(directory)],
        capture_output=True,
        check=False,
    )
    if mounted.returncode != 0:  # an unprivileged machine: the skip names why, it never passes
        pytest.skip(f"cannot mount a small filesystem here: {mounted.stderr.decode().strip()}")
    try:
        yield
    finally:
        subprocess.run(["umount", "-l", str(directory)], check=True)


async def kill_child_when_running(name: str, within_seconds: float = 20.0) -> bool:
    """SIGKILL the first child process called `name` of this test process."""
    me = psutil.Process(os.getpid())
    deadline = asyncio.get_running_loop().time() + within_seconds
    while asyncio.get_running_loop().time() < deadline:
        for child in me.children(recursive=True):
            try:
                if child.name() == name:
                    await asyncio.sleep(0.3)  # let it get going
                    child.send_signal(signal.SIGKILL)
                    return True
            except psutil.NoSuchProcess:
                continue
        await asyncio.sleep(0.02)
    return False
