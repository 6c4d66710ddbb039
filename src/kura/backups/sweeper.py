"""Removing what crashes leave behind — staged dumps, half-written store files, backup data
without a manifest, abandoned scratch databases — and retired databases past their keep time.

Runs only while holding the backup lock, so nothing a running operation uses is touched. What
is removed is logged and audited by name and size, never content.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
from sqlalchemy.engine import URL

from kura.audit.service import AuditAction, record
from kura.backups.lock import operation_lock
from kura.backups.naming import MANIFEST_SUFFIX, is_backup_name, manifest_name
from kura.backups.swap import RestoreIntent, drop_database
from kura.config import Settings
from kura.db.copies import is_retired_of, is_scratch_of
from kura.db.engine import Database
from kura.logging import get_logger
from kura.storage.blobs import BlobStore, LocalBlobStore

log = get_logger(__name__)
ORPHAN_AGE = timedelta(hours=1)


@dataclass(frozen=True)
class Removed:
    kind: str  # staged_file | store_temp_file | orphan_blob | scratch_database | retired_database
    name: str
    size_bytes: int


def staging_dir(settings: Settings) -> Path:
    return settings.kura_data_dir / "tmp"


def _stamp_age(name: str, now: datetime) -> timedelta:
    try:
        stamp = datetime.strptime(name[-14:], "%Y%m%d%H%M%S").replace(tzinfo=UTC)
    except ValueError:
        return timedelta.max
    return now - stamp


async def drop_stale_copies(
    control: psycopg.AsyncConnection, live: str, settings: Settings, *, keep: str | None = None
) -> list[Removed]:
    """Drop scratch databases no restore intends to swap in, and retired databases except the
    newest one while it is younger than BACKUP_RETIRED_DATABASE_HOURS."""
    rows = await (
        await control.execute(
            "SELECT datname, pg_database_size(oid), shobj_description(oid, 'pg_database') "
            "FROM pg_database"
        )
    ).fetchall()
    now = datetime.now(UTC)
    keep_for = timedelta(hours=settings.backup_retired_database_hours)
    retired = sorted((r for r in rows if is_retired_of(live, r[0])), key=lambda r: r[0])
    newest = keep or (retired[-1][0] if retired else None)
    removed: list[Removed] = []
    for name, size, comment in rows:
        if is_scratch_of(live, name) and RestoreIntent.decode(comment) is None:
            kind = "scratch_database"
        elif is_retired_of(live, name) and (name != newest or _stamp_age(name, now) >= keep_for):
            kind = "retired_database"
        else:
            continue
        await drop_database(control, name)
        removed.append(Removed(kind, name, int(size or 0)))
    return removed


def _sweep_local_files(settings: Settings, store: BlobStore) -> list[Removed]:
    candidates = list(staging_dir(settings).glob("*")) if staging_dir(settings).is_dir() else []
    kinds = {path: "staged_file" for path in candidates}
    if isinstance(store, LocalBlobStore) and store.directory.is_dir():
        kinds.update({path: "store_temp_file" for path in store.directory.glob(".tmp-*")})
    removed = []
    for path, kind in kinds.items():
        with contextlib.suppress(OSError):
            if path.is_file() and not path.is_symlink():
                size = path.stat().st_size
                path.unlink()
                removed.append(Removed(kind, path.name, size))
    return removed


async def _sweep_orphan_blobs(store: BlobStore) -> list[Removed]:
    """A data file whose manifest never got written (a crash between the two), or the
    reverse: neither is a listed backup. Only after an hour, so that an operator copying a
    backup into the store by hand (data, then manifest) is never interrupted."""
    blobs = {blob.name: blob for blob in await store.list("backup_")}
    cutoff = datetime.now(UTC) - ORPHAN_AGE
    removed = []
    for name, blob in blobs.items():
        if is_backup_name(name):
            orphan = manifest_name(name) not in blobs
        else:
            data = name.removesuffix(MANIFEST_SUFFIX)
            orphan = name != data and is_backup_name(data) and data not in blobs
        if orphan and blob.updated_at < cutoff:
            await store.delete(name)
            removed.append(Removed("orphan_blob", name, blob.size))
    return removed


async def sweep(settings: Settings, url: URL, store: BlobStore) -> list[Removed]:
    """Remove leftovers if no backup or restore is running (else do nothing this time)."""
    async with operation_lock(url) as control:
        if control is None:
            log.info("backup.sweep_skipped", reason="a backup or restore is running")
            return []
        removed = await asyncio.to_thread(_sweep_local_files, settings, store)
        removed += await _sweep_orphan_blobs(store)
        removed += await drop_stale_copies(control, str(url.database), settings)
    if removed:
        await _audit(url, removed)
    return removed


async def _audit(url: URL, removed: list[Removed]) -> None:
    total = sum(item.size_bytes for item in removed)
    log.info(
        "backup.leftovers_removed",
        count=len(removed),
        size_bytes=total,
        items=[f"{item.kind}:{item.name}:{item.size_bytes}" for item in removed],
    )
    database = Database.connect(url, pool_size=1)
    try:
        async with database.sessionmaker() as session, session.begin():
            await record(
                session,
                AuditAction.BACKUP_LEFTOVERS_REMOVED,
                organization_id=None,
                actor_id=None,
                details={"removed": [asdict(item) for item in removed], "size_bytes": total},
            )
    finally:
        await database.dispose()
