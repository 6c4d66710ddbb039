"""Production runs Cloud SQL PostgreSQL 15: backup and restore against a real PostgreSQL 15
server with this project's (newer) pg_dump and psql."""

from __future__ import annotations

import asyncio
import os
import pwd
import shutil
import subprocess
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import psycopg
import pytest
from sqlalchemy.engine import URL

from kura.auth.sessions import Authenticated
from kura.backups.service import BackupService
from kura.db.migrate import upgrade_heads
from kura.db.urls import DRIVER, libpq_conninfo
from kura.storage.blobs import LocalBlobStore
from tests.backup_support import BackupEnv, open_env, table_fingerprints
from tests.test_patients import add_search_rows, explain_search

PG15 = Path("/usr/lib/postgresql/15/bin")


def _run_pg15(*args: str | Path) -> None:
    """Run a PostgreSQL 15 tool; as root it must run as the `postgres` system user."""
    as_root = os.geteuid() == 0
    subprocess.run(
        [str(a) for a in args],
        check=True,
        capture_output=True,
        user="postgres" if as_root else None,
        group=pwd.getpwnam("postgres").pw_gid if as_root else None,
    )


@pytest.fixture(scope="module")
def pg15_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[URL]:
    if not (PG15 / "postgres").exists():
        pytest.skip("PostgreSQL 15 server binaries not installed (Debian package postgresql-15)")
    base = tmp_path_factory.mktemp("pg15")
    if os.geteuid() == 0:
        shutil.chown(base, "postgres")
        base.chmod(0o755)
        for parent in base.parents:
            parent.chmod(parent.stat().st_mode | 0o005)
    data = base / "data"
    _run_pg15(PG15 / "initdb", "-D", data, "--auth=trust", "-U", "postgres", "-E", "UTF8")
    _run_pg15(
        PG15 / "pg_ctl", "-D", data, "-o", f"-k {base} -h ''", "-l", base / "log", "-w", "start"
    )
    url = URL.create(DRIVER, username="postgres", database="kura_pg15", query={"host": str(base)})
    with psycopg.connect(libpq_conninfo(url.set(database="postgres")), autocommit=True) as conn:
        assert conn.info.server_version // 10000 == 15
        conn.execute("CREATE DATABASE kura_pg15")
    upgrade_heads(url)
    yield url
    _run_pg15(PG15 / "pg_ctl", "-D", data, "-m", "fast", "-w", "stop")


@pytest.fixture
async def pg15_env(pg15_server: URL, tmp_path: Path) -> AsyncIterator[BackupEnv]:
    async for env in open_env(pg15_server, tmp_path / "data"):
        yield env


async def test_backup_and_restore_on_postgresql_15(pg15_env: BackupEnv) -> None:
    service = BackupService(
        pg15_env.settings, LocalBlobStore(pg15_env.store_dir), pg15_env.database
    )
    before = table_fingerprints(pg15_env.url)
    manifest = await service.create()
    assert manifest.server_version.startswith("15.")
    await pg15_env.client.post(
        "/api/v1/patients", headers=pg15_env.owner.headers, json={"full_name": "Después"}
    )
    await service.restore(manifest.filename)
    after = table_fingerprints(pg15_env.url)
    for table in ("public.patient", "public.user_account", "public.organization"):
        assert after[table] == before[table]
    assert (
        await pg15_env.client.get("/api/v1/auth/me", headers=pg15_env.owner.headers)
    ).status_code == 401


MANUAL_FILTER = "sed -e '/^SET transaction_timeout = /d'"


async def test_the_documented_manual_restore_works_on_postgresql_15(
    pg15_env: BackupEnv,
) -> None:
    """docs/backups.md's hand restore of a pg_dump 18 file into PostgreSQL 15 (psql 15)."""
    assert MANUAL_FILTER in (Path(__file__).parents[1] / "docs" / "backups.md").read_text()
    service = BackupService(
        pg15_env.settings, LocalBlobStore(pg15_env.store_dir), pg15_env.database
    )
    manifest = await service.create()
    assert manifest.pg_dump_version.split()[-1].startswith("18")
    target = pg15_env.url.set(database="kura_manual")
    with psycopg.connect(
        libpq_conninfo(pg15_env.url.set(database="postgres")), autocommit=True
    ) as c:
        c.execute("DROP DATABASE IF EXISTS kura_manual")
        c.execute("CREATE DATABASE kura_manual")
    pipeline = (
        f"gunzip -c '{pg15_env.store_dir / manifest.filename}' | {MANUAL_FILTER} | "
        f"'{PG15 / 'psql'}' -X -q -v ON_ERROR_STOP=1 --single-transaction "
        f"-d '{libpq_conninfo(target)}' > /dev/null"
    )
    done = await asyncio.to_thread(
        subprocess.run, ["bash", "-o", "pipefail", "-c", pipeline], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    restored = table_fingerprints(target)
    assert {table: count for table, (count, _) in restored.items()} == manifest.tables


async def test_accent_insensitive_search_on_postgresql_15(pg15_env: BackupEnv) -> None:
    """Migration 0013 (unaccent from PostgreSQL 15's contrib, kura_fold and its trigram
    indexes) on the production major version: the search folds, and its indexes serve it."""
    client, owner = pg15_env.client, pg15_env.owner
    for name in ("Ana Núñez", "Gràcia Forçat"):
        created = await client.post(
            "/api/v1/patients", headers=owner.headers, json={"full_name": name}
        )
        assert created.status_code == 201, created.text
    for typed, found in (("NUNEZ", "Ana Núñez"), ("gracia forcat", "Gràcia Forçat")):
        response = await client.get("/api/v1/patients", headers=owner.headers, params={"q": typed})
        assert [p["full_name"] for p in response.json()["items"]] == [found]
    async with pg15_env.database.sessionmaker() as session:  # never committed: rolled back
        await add_search_rows(session, owner.organization.id, 3000)
        auth = Authenticated(owner.user, owner.organization, uuid.uuid4())
        plan = await explain_search(session, auth, "nunez")
    assert "ix_patient_full_name_fold_trgm" in plan, plan
    assert "ix_patient_email_fold_trgm" in plan, plan
