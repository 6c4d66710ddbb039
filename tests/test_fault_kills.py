"""kill -9 in the middle of a backup or a restore: nothing partial is listed, the live data is
exactly as before, and the next operation works."""

from __future__ import annotations

import asyncio
import os
import signal

import psutil
import pytest
from bench.backups import generate

from kura.backups.restore import RestoreFailed
from kura.backups.service import BackupFailed, BackupService
from kura.storage.blobs import LocalBlobStore
from tests.backup_support import BackupEnv, table_fingerprints


async def _kill_child_when_running(name: str, within_seconds: float = 20.0) -> bool:
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


@pytest.mark.timeout(180)
async def test_pg_dump_killed_mid_backup_leaves_nothing_listed(backup_env: BackupEnv) -> None:
    await asyncio.to_thread(generate, backup_env.url, 15)
    service = BackupService(
        backup_env.settings, LocalBlobStore(backup_env.store_dir), backup_env.database
    )
    killer = asyncio.create_task(_kill_child_when_running("pg_dump"))
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
    killer = asyncio.create_task(_kill_child_when_running("psql"))
    with pytest.raises(RestoreFailed):
        await service.restore(manifest.filename)
    assert await killer
    after = await asyncio.to_thread(table_fingerprints, backup_env.url)
    assert after == before
    result = await service.restore(manifest.filename)  # and a clean retry succeeds
    assert result.restored.filename == manifest.filename
