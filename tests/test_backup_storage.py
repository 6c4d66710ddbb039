"""Where backups live: retention rules, and a Google Cloud Storage bucket (local emulator)."""

from __future__ import annotations

import hashlib
import socket
from collections.abc import Iterator

import pytest
from google.auth.credentials import AnonymousCredentials
from google.cloud import storage

from kura.backups.lock import exclusive_operation
from kura.backups.service import BackupService
from kura.storage.blobs import BlobNotFound, GCSBlobStore, LocalBlobStore
from tests.backup_support import BackupEnv, table_fingerprints


def _service(env: BackupEnv, **overrides: object) -> BackupService:
    settings = env.settings.model_copy(update=overrides)
    return BackupService(settings, LocalBlobStore(env.store_dir), env.database)


async def test_retention_keeps_the_newest_and_expires_pre_restore_backups(
    backup_env: BackupEnv,
) -> None:
    service = _service(backup_env, backup_retention_count=2, backup_prerestore_days=0)
    async with exclusive_operation(backup_env.url):
        pre_restore = await service._create_locked("pre-restore")
    first = await service.create()
    assert pre_restore.filename not in {m.filename for m in await service.list_backups()}
    second = await service.create()
    third = await service.create()
    names = [m.filename for m in await service.list_backups()]
    assert names == [third.filename, second.filename]
    assert first.filename not in names
    files = {p.name for p in backup_env.store_dir.iterdir()}
    assert first.filename not in files and f"{first.filename}.manifest.json" not in files


async def test_retention_of_one_never_deletes_the_backup_just_made(backup_env: BackupEnv) -> None:
    service = _service(backup_env, backup_retention_count=1)
    await service.create()
    newest = await service.create()
    assert [m.filename for m in await service.list_backups()] == [newest.filename]


@pytest.fixture
def gcs_client(monkeypatch: pytest.MonkeyPatch) -> Iterator[storage.Client]:
    from gcp_storage_emulator.server import create_server

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = create_server("127.0.0.1", port, in_memory=True, default_bucket="kura-test-backups")
    server.start()
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", f"http://127.0.0.1:{port}")
    try:
        credentials = AnonymousCredentials()  # type: ignore[no-untyped-call]
        yield storage.Client(project="kura-test", credentials=credentials)
    finally:
        server.stop()


async def test_gcs_store_round_trip(gcs_client: storage.Client, tmp_path: object) -> None:
    store = GCSBlobStore("kura-test-backups", prefix="backups/", client=gcs_client)
    await store.put_bytes("a.txt", b"hello")
    assert [b.name for b in await store.list()] == ["a.txt"]
    assert await store.read_bytes("a.txt") == b"hello"
    chunks = [chunk async for chunk in store.stream("a.txt")]
    assert b"".join(chunks) == b"hello"
    await store.delete("a.txt")
    assert await store.list() == []
    with pytest.raises(BlobNotFound):
        await store.read_bytes("a.txt")


async def test_backup_and_restore_through_a_gcs_bucket(
    backup_env: BackupEnv, gcs_client: storage.Client
) -> None:
    store = GCSBlobStore("kura-test-backups", prefix="backups/", client=gcs_client)
    service = BackupService(backup_env.settings, store, backup_env.database)
    before = table_fingerprints(backup_env.url)
    manifest = await service.create()
    listed = await service.list_backups()
    assert [m.filename for m in listed] == [manifest.filename]
    assert store.location == "gs://kura-test-backups/backups/"
    data = b"".join([chunk async for chunk in service.stream(manifest)])
    assert hashlib.sha256(data).hexdigest() == manifest.sha256
    await backup_env.client.post(
        "/api/v1/patients", headers=backup_env.owner.headers, json={"full_name": "Después"}
    )
    result = await service.restore(manifest.filename)
    assert result.pre_restore.kind == "pre-restore"
    after = table_fingerprints(backup_env.url)
    assert after["public.patient"] == before["public.patient"]
    assert not list((backup_env.settings.kura_data_dir / "tmp").iterdir())  # staging cleaned
