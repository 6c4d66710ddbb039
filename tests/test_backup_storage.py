"""Where backups live: retention rules, and a Google Cloud Storage bucket (local emulator)."""

from __future__ import annotations

import asyncio
import hashlib
import socket
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from alembic import command
from bench.backups import generate
from google.auth.credentials import AnonymousCredentials
from google.cloud import storage
from sqlalchemy.engine import URL

from kura.backups.lock import exclusive_operation
from kura.backups.service import BackupFailed, BackupService
from kura.config import load_settings
from kura.db.engine import Database
from kura.db.migrate import alembic_config, current_revisions, head_revisions, upgrade_heads
from kura.db.urls import libpq_conninfo
from kura.storage.blobs import BlobNotFound, GCSBlobStore, LocalBlobStore
from tests.backup_support import BackupEnv, kill_child_when_running, table_fingerprints


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
        credentials = AnonymousCredentials()  # type: ignore[no-untyped-call]  # google-auth: untyped
        yield storage.Client(project="kura-test", credentials=credentials)
    finally:
        server.stop()


async def test_gcs_store_round_trip(gcs_client: storage.Client) -> None:
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
    assert not (backup_env.settings.kura_data_dir / "tmp").exists()  # nothing was staged


async def test_restoring_an_older_schema_brings_migrations_to_head(
    db_url: URL, tmp_path: Path
) -> None:
    """A backup from before a deploy's migrations: after the restore the schema is at head."""
    url = db_url.set(database="kura_oldschema")
    admin = libpq_conninfo(db_url.set(database="postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute("DROP DATABASE IF EXISTS kura_oldschema WITH (FORCE)")
        conn.execute("CREATE DATABASE kura_oldschema")
    try:
        command.upgrade(alembic_config(url), "0001_job_queue")
        settings = load_settings(
            environment="test",
            kura_data_dir=tmp_path,
            secret_key="old-schema-key-0123456789abcdef0123",
        )
        database = Database.connect(url)
        service = BackupService(settings, LocalBlobStore(tmp_path / "backups"), database)
        old = await service.create()
        assert old.schema_revision == "0001_job_queue"
        upgrade_heads(url)  # a deploy happened after the backup
        await service.restore(old.filename)
        assert current_revisions(url) == head_revisions()
        with psycopg.connect(libpq_conninfo(url)) as conn:
            epoch = conn.execute("SELECT auth_epoch FROM platform_state").fetchone()
        assert epoch is not None
        await database.dispose()
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute("DROP DATABASE IF EXISTS kura_oldschema WITH (FORCE)")


@pytest.mark.timeout(180)
async def test_a_failed_backup_leaves_no_object_in_the_bucket(
    backup_env: BackupEnv, gcs_client: storage.Client
) -> None:
    """pg_dump killed half-way through a resumable upload: the upload is cancelled, nothing
    (not even an unlisted object) appears, and the next backup works."""
    await asyncio.to_thread(generate, backup_env.url, 15)
    store = GCSBlobStore("kura-test-backups", prefix="backups/", client=gcs_client)
    service = BackupService(backup_env.settings, store, backup_env.database)
    killer = asyncio.create_task(kill_child_when_running("pg_dump"))
    with pytest.raises(BackupFailed):
        await service.create()
    assert await killer
    assert await store.list() == []
    manifest = await service.create()
    assert [b.name for b in await store.list()] == sorted(
        [manifest.filename, f"{manifest.filename}.manifest.json"]
    )
