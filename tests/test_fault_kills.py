"""kill -9 in the middle of a backup or a restore: nothing partial is listed, the live data is
exactly as before, and the next operation works."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import psutil
import psycopg
import pytest
from bench.backups import generate

from kura.backups.restore import RestoreFailed
from kura.backups.service import BackupFailed, BackupService
from kura.config import load_settings
from kura.db.embedded import EmbeddedPostgres
from kura.db.engine import Database
from kura.db.migrate import upgrade_heads
from kura.db.urls import describe, libpq_conninfo
from kura.storage.blobs import LocalBlobStore
from tests.backup_support import BackupEnv, kill_child_when_running, table_fingerprints
from tests.operator_support import Operator
from tests.server_support import server_env, serving, spawn


@pytest.mark.timeout(180)
async def test_pg_dump_killed_mid_backup_leaves_nothing_listed(backup_env: BackupEnv) -> None:
    await asyncio.to_thread(generate, backup_env.url, 15)
    service = BackupService(
        backup_env.settings, LocalBlobStore(backup_env.store_dir), backup_env.database
    )
    killer = asyncio.create_task(kill_child_when_running("pg_dump"))
    with pytest.raises(BackupFailed):
        await service.create()
    assert await killer
    assert await service.list_backups() == []
    leftovers = list(backup_env.store_dir.glob("*")) if backup_env.store_dir.exists() else []
    assert not [p for p in leftovers if not p.name.startswith(".tmp-")]
    assert not list((backup_env.settings.kura_data_dir / "tmp").glob("*"))  # staging cleaned
    manifest = await service.create()  # the next backup works (the lock was released)
    assert [m.filename for m in await service.list_backups()] == [manifest.filename]


@pytest.mark.timeout(180)
async def test_psql_killed_mid_restore_leaves_the_live_database_as_it_was(
    backup_env: BackupEnv,
) -> None:
    await asyncio.to_thread(generate, backup_env.url, 15)
    service = BackupService(
        backup_env.settings, LocalBlobStore(backup_env.store_dir), backup_env.database
    )
    manifest = await service.create()
    await backup_env.client.post(
        "/api/v1/patients", headers=backup_env.owner.headers, json={"full_name": "Viva"}
    )
    before = await asyncio.to_thread(table_fingerprints, backup_env.url)
    killer = asyncio.create_task(kill_child_when_running("psql"))
    with pytest.raises(RestoreFailed):
        await service.restore(manifest.filename)
    assert await killer
    after = await asyncio.to_thread(table_fingerprints, backup_env.url)
    after.pop("public.audit_event")  # the pre-restore backup's `backup.created` line
    before.pop("public.audit_event")
    assert after == before
    result = await service.restore(manifest.filename)  # and a clean retry succeeds
    assert result.restored.filename == manifest.filename


@pytest.mark.timeout(240)
def test_server_killed_mid_backup_then_restarted(tmp_path: Path) -> None:
    db = EmbeddedPostgres(tmp_path / "db", database="kura_kill")
    url = db.start()
    try:
        upgrade_heads(url)
        generate(url, 15)
        env: dict[str, Any] = {"DATABASE_URL": describe(url, show_password=True)}
        subprocess.run(
            [
                sys.executable,
                "-m",
                "kura",
                "createsuperuser",
                "--email",
                "ops@example.org",
                "--full-name",
                "Ops",
            ],
            env=server_env(
                KURA_DATA_DIR=str(tmp_path / "kura"),
                KURA_SUPERUSER_PASSWORD="operador-seguro-2026",
                **env,
            ),
            check=True,
            capture_output=True,
            timeout=120,
        )

        login = Operator("ops@example.org", "operador-seguro-2026").headers  # MFA on first use

        with serving(tmp_path / "kura", strict=False, **env) as base:
            headers = login(base)
            server = next(
                p
                for p in psutil.process_iter(["cmdline"])
                if p.info["cmdline"]
                and "--port" in p.info["cmdline"]
                and base.rsplit(":", 1)[1] in p.info["cmdline"]
            )

            def backup() -> None:
                with contextlib.suppress(httpx.HTTPError):  # the server dies under this call
                    httpx.post(f"{base}/api/v1/admin/backups/create", headers=headers, timeout=60)

            threading.Thread(target=backup, daemon=True).start()
            deadline = time.monotonic() + 30
            while not any(c.name() == "pg_dump" for c in server.children(recursive=True)):
                assert time.monotonic() < deadline, "the backup never started"
                time.sleep(0.02)
            time.sleep(0.3)
            server.send_signal(signal.SIGKILL)
            server.wait(10)
        with serving(tmp_path / "kura", **env) as base:
            headers = login(base)
            assert httpx.get(f"{base}/api/v1/admin/backups", headers=headers).json()["total"] == 0
            created = httpx.post(
                f"{base}/api/v1/admin/backups/create", headers=headers, timeout=120
            )
            assert created.status_code == 200, created.text  # the lock died with the server
            assert httpx.get(f"{base}/api/v1/admin/backups", headers=headers).json()["total"] == 1
    finally:
        db.stop()


def _worker(data_dir: Path, url_env: dict[str, str]) -> subprocess.Popen[bytes]:
    log_path = data_dir.parent / f"worker-{time.monotonic_ns()}.log"
    return spawn(["worker"], data_dir, log_path, **url_env)


@pytest.mark.timeout(240)
def test_standalone_worker_killed_mid_backup_the_job_is_retried(tmp_path: Path) -> None:
    """kill -9 of `kura worker` while its scheduled backup runs: nothing partial is listed, the
    job is not lost (the stalled-job sweep puts it back) and the next worker completes it."""
    from kura.jobs.maintenance import retry_stalled_jobs
    from kura.jobs.queue import job_queue

    db = EmbeddedPostgres(tmp_path / "db", database="kura_worker_kill")
    url = db.start()
    data_dir = tmp_path / "kura"
    env = {"DATABASE_URL": describe(url, show_password=True), "BACKUP_CRON": "0 0 29 2 *"}
    settings = load_settings(kura_data_dir=data_dir, secret_key=None)
    store = LocalBlobStore(data_dir / "backups")

    async def defer_backup() -> None:
        async with job_queue(url) as app:
            await app.configure_task("backups:scheduled_backup").defer_async(timestamp=0)

    async def sweep() -> list[str]:
        """The tasks of the jobs put back in the queue."""
        async with job_queue(url) as app:
            ids = await retry_stalled_jobs(app, seconds_since_heartbeat=0)
        with psycopg.connect(libpq_conninfo(url)) as conn:
            rows = conn.execute(
                "SELECT task_name FROM procrastinate_jobs WHERE id = ANY(%s)", (ids,)
            ).fetchall()
        return [str(row[0]) for row in rows]

    async def listed() -> list[str]:
        database = Database.connect(url)
        try:
            return [
                m.filename for m in await BackupService(settings, store, database).list_backups()
            ]
        finally:
            await database.dispose()

    try:
        upgrade_heads(url)
        generate(url, 15)
        asyncio.run(defer_backup())
        worker = _worker(data_dir, env)
        process = psutil.Process(worker.pid)
        deadline = time.monotonic() + 60
        while not any(c.name() == "pg_dump" for c in process.children(recursive=True)):
            assert worker.poll() is None, "the worker exited"
            assert time.monotonic() < deadline, "the backup job never started"
            time.sleep(0.02)
        time.sleep(0.3)
        worker.kill()
        worker.wait(10)
        assert asyncio.run(listed()) == []
        assert [p for p in store.directory.glob("*") if not p.name.startswith(".tmp-")] == []

        # The job the dead worker held. A periodic job may have been running beside it (a worker
        # defers the ticks of the last 10 minutes when it starts, e.g. the hourly sweep at :41).
        assert asyncio.run(sweep()).count("backups:scheduled_backup") == 1
        worker = _worker(data_dir, env)
        try:
            deadline = time.monotonic() + 90
            while not (names := asyncio.run(listed())):
                assert worker.poll() is None, "the second worker exited"
                assert time.monotonic() < deadline, "the retried backup never completed"
                time.sleep(0.5)
            assert len(names) == 1
            worker.send_signal(signal.SIGTERM)
            assert worker.wait(30) == 0  # SIGTERM stops the worker cleanly
        finally:
            if worker.poll() is None:
                worker.kill()
                worker.wait(10)
    finally:
        db.stop()


@pytest.mark.timeout(180)
async def test_psql_killed_during_an_api_restore_answers_restore_failed_and_audits_it(
    backup_env: BackupEnv,
) -> None:
    await asyncio.to_thread(generate, backup_env.url, 15)
    api = "/api/v1/admin/backups"
    created = await backup_env.client.post(f"{api}/create", headers=backup_env.operator.headers)
    filename = created.json()["filename"]
    killer = asyncio.create_task(kill_child_when_running("psql"))
    response = await backup_env.client.post(
        f"{api}/restore",
        headers=backup_env.operator.headers,
        json={"filename": filename, "confirm": True},
    )
    assert await killer
    assert response.status_code == 500
    assert response.json()["error"] == "restore_failed"
    with psycopg.connect(libpq_conninfo(backup_env.url)) as conn:
        actions = [
            row[0]
            for row in conn.execute(
                "SELECT action FROM audit_event WHERE target_id = %s ORDER BY id", (filename,)
            )
        ]
    assert actions == ["backup.created", "restore.started", "restore.failed"]
