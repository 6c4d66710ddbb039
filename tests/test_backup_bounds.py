"""Backups that end: a full disk (a real tmpfs that runs out of space) answers `backup_failed`
at once, releases the lock and the snapshot, and leaves nothing behind; no local staging space
is needed; the sweeper removes what crashes left."""

from __future__ import annotations

import asyncio
import os
from datetime import UTC, datetime, timedelta

import psutil
import psycopg
import pytest
from bench.backups import generate
from psycopg import sql
from sqlalchemy.engine import URL

from kura.backups.lock import LOCK_KEY
from kura.backups.sweeper import sweep
from kura.db.copies import retired_name, scratch_name
from kura.db.urls import libpq_conninfo
from kura.storage.blobs import LocalBlobStore
from tests.backup_support import BackupEnv, admin, full_disk

API = "/api/v1/admin/backups"


def _held_locks_and_snapshots(url: URL) -> tuple[int, int]:
    with psycopg.connect(admin(url)) as conn:
        locks = conn.execute(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' "
            "AND ((classid::bigint << 32) | objid::bigint) = %s",
            (LOCK_KEY,),
        ).fetchone()
        idle = conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = %s "
            "AND state LIKE 'idle in transaction%%'",
            (url.database,),
        ).fetchone()
    assert locks is not None and idle is not None
    return int(locks[0]), int(idle[0])


def _pg_dumps_running() -> list[psutil.Process]:
    return [
        c for c in psutil.Process(os.getpid()).children(recursive=True) if c.name() == "pg_dump"
    ]


@pytest.mark.timeout(180)
async def test_a_full_backup_folder_fails_the_backup_at_once_and_releases_everything(
    backup_env: BackupEnv,
) -> None:
    env = backup_env
    await asyncio.to_thread(generate, env.url, 2)  # a dump far larger than the 64 KiB disk
    with full_disk(env.store_dir):
        response = await env.client.post(f"{API}/create", headers=env.operator.headers)
        assert response.status_code == 500
        body = response.json()
        assert body["error"] == "backup_failed"
        assert "backup storage is full (No space left on device)" in body["detail"]
        assert _held_locks_and_snapshots(env.url) == (0, 0)
        assert _pg_dumps_running() == []
        assert list(env.store_dir.iterdir()) == []  # no half-written file in the store
        listed = await env.client.get(API, headers=env.operator.headers)
        assert listed.json()["total"] == 0
    created = await env.client.post(f"{API}/create", headers=env.operator.headers)
    assert created.status_code == 200, created.text  # the next backup works at once


@pytest.mark.timeout(180)
async def test_backup_and_restore_need_no_local_staging_space(backup_env: BackupEnv) -> None:
    """Cloud Run's disk is memory: with a 64 KiB KURA_DATA_DIR/tmp a 2 MB database is still
    backed up and restored (the dump streams into the store and back out of it)."""
    env = backup_env
    await asyncio.to_thread(generate, env.url, 2)
    with full_disk(env.settings.kura_data_dir / "tmp"):
        created = await env.client.post(f"{API}/create", headers=env.operator.headers)
        assert created.status_code == 200, created.text
        restored = await env.client.post(
            f"{API}/restore",
            headers=env.operator.headers,
            json={"filename": created.json()["filename"], "confirm": True},
        )
        assert restored.status_code == 200, restored.text


def _create_database(url: URL, name: str, comment: str | None = None) -> None:
    with psycopg.connect(admin(url), autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        if comment:
            conn.execute(
                sql.SQL("COMMENT ON DATABASE {} IS {}").format(
                    sql.Identifier(name), sql.Literal(comment)
                )
            )


def _databases(url: URL) -> set[str]:
    with psycopg.connect(admin(url)) as conn:
        return {row[0] for row in conn.execute("SELECT datname FROM pg_database")}


async def test_the_sweeper_removes_leftovers_and_audits_names_and_sizes(
    backup_env: BackupEnv,
) -> None:
    env = backup_env
    live = str(env.url.database)
    now = datetime.now(UTC)
    abandoned = scratch_name(live, now - timedelta(minutes=5))
    old_retired = retired_name(live, now - timedelta(hours=30))
    recent_retired = retired_name(live, now - timedelta(hours=2))
    older_recent = retired_name(live, now - timedelta(hours=3))
    for name in (abandoned, old_retired, recent_retired, older_recent):
        _create_database(env.url, name)
    staging = env.settings.kura_data_dir / "tmp"
    staging.mkdir(parents=True, exist_ok=True)
    (staging / "dump-dead.sql.gz").write_bytes(b"x" * 1000)
    env.store_dir.mkdir(parents=True, exist_ok=True)
    (env.store_dir / ".tmp-dead").write_bytes(b"y" * 10)
    orphan = env.store_dir / "backup_2026-01-01_00-00.sql.gz"  # data without a manifest
    orphan.write_bytes(b"z" * 20)
    an_hour_ago = (now - timedelta(hours=2)).timestamp()
    os.utime(orphan, (an_hour_ago, an_hour_ago))
    fresh_orphan = env.store_dir / "backup_2026-01-02_00-00.sql.gz"  # being copied in by hand
    fresh_orphan.write_bytes(b"w" * 20)
    try:
        removed = await sweep(env.settings, env.url, LocalBlobStore(env.store_dir))
        names = {item.name: item.kind for item in removed}
        assert names == {
            "dump-dead.sql.gz": "staged_file",
            ".tmp-dead": "store_temp_file",
            orphan.name: "orphan_blob",
            abandoned: "scratch_database",
            old_retired: "retired_database",
            older_recent: "retired_database",
        }
        assert recent_retired in _databases(env.url)  # the newest, younger than 24 h, is kept
        assert fresh_orphan.exists()
        with psycopg.connect(libpq_conninfo(env.url)) as conn:
            row = conn.execute(
                "SELECT details FROM audit_event WHERE action = 'backup.leftovers_removed'"
            ).fetchone()
        assert row is not None
        audited = {item["name"]: item["size_bytes"] for item in row[0]["removed"]}
        assert audited["dump-dead.sql.gz"] == 1000 and audited[orphan.name] == 20
        assert await sweep(env.settings, env.url, LocalBlobStore(env.store_dir)) == []
    finally:
        with psycopg.connect(admin(env.url), autocommit=True) as conn:
            for name in (abandoned, old_retired, recent_retired, older_recent):
                conn.execute(
                    sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
                )
