"""Backups as the operator sees them: list, create, verify, restore, delete, retention."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cached_property
from typing import BinaryIO

import psycopg
from sqlalchemy import update
from sqlalchemy.engine import URL
from sqlalchemy.exc import ProgrammingError

from kura import __version__
from kura.audit.service import AuditAction, record
from kura.auth.models import PlatformState
from kura.backups import progress
from kura.backups.dump import DumpFailed, dump_database
from kura.backups.lock import exclusive_operation
from kura.backups.manifest import (
    Keyring,
    Manifest,
    ManifestInvalid,
    SignatureRejected,
    keyring,
    sign,
    verify,
)
from kura.backups.naming import is_backup_name, manifest_name, new_backup_name
from kura.backups.outcomes import Actor, record_outcome
from kura.backups.restore import BackupCorrupt, RestoreFailed, load_into_scratch, verify_file
from kura.backups.swap import RestoreIntent, drop_database, swap_in
from kura.backups.sweeper import drop_stale_copies
from kura.config import Settings
from kura.db.copies import retired_name
from kura.db.engine import Database
from kura.db.errors import is_database_outage
from kura.errors import BadRequest, KuraError, NotFound
from kura.logging import get_logger
from kura.storage.blobs import BlobNotFound, BlobStore

log = get_logger(__name__)
PRE_RESTORE = "pre-restore"


class BackupFailed(KuraError):
    status_code = 500
    code = "backup_failed"


class BackupUnusable(KuraError):
    status_code = 422
    code = "backup_unusable"


async def _settle(task: asyncio.Task[Manifest]) -> None:
    """Let a side task finish (its outcome no longer matters) before giving up the lock."""
    with contextlib.suppress(BaseException):
        await task


@dataclass(frozen=True)
class Unverifiable:
    """A backup whose manifest is unreadable or verified by no configured key: never listed,
    never restored. `reason` names the key id it needs (never a key)."""

    filename: str
    key_id: str | None
    reason: str


@dataclass(frozen=True)
class Scan:
    backups: list[Manifest]
    unverifiable: list[Unverifiable] = field(default_factory=list)


@dataclass(frozen=True)
class RestoreResult:
    restored: Manifest
    pre_restore: Manifest


def _not_found(scan: Scan, filename: str) -> NotFound:
    for entry in scan.unverifiable:
        if entry.filename == filename:
            return NotFound(f"{entry.filename} cannot be verified: {entry.reason}.")
    return NotFound("No such backup.")


class BackupService:
    def __init__(self, settings: Settings, store: BlobStore, database: Database) -> None:
        self.settings = settings
        self.store = store
        self.database = database
        self.url: URL = database.engine.url

    @cached_property
    def keys(self) -> Keyring:
        return keyring(self.settings)

    # -- reading -------------------------------------------------------------------------

    async def list_backups(self) -> list[Manifest]:
        """Complete backups only: data file and signed manifest present and consistent."""
        return (await self.scan()).backups

    async def scan(self) -> Scan:
        """The listed backups, and those whose manifest no configured key verifies."""
        blobs = {blob.name: blob for blob in await self.store.list("backup_")}
        manifests: list[Manifest] = []
        unverifiable: list[Unverifiable] = []
        for name, blob in blobs.items():
            if not is_backup_name(name) or manifest_name(name) not in blobs:
                continue
            try:
                manifest = verify(await self.store.read_bytes(manifest_name(name)), self.keys)
            except BlobNotFound:  # deleted meanwhile
                continue
            except ManifestInvalid as exc:
                key_id = exc.key_id if isinstance(exc, SignatureRejected) else None
                log.warning(
                    "backup.manifest_rejected", filename=name, key_id=key_id, reason=str(exc)
                )
                unverifiable.append(Unverifiable(name, key_id, str(exc)))
                continue
            if manifest.filename == name and manifest.size_bytes == blob.size:
                manifests.append(manifest)
        manifests.sort(key=lambda m: (m.created_at, m.filename), reverse=True)
        return Scan(manifests, sorted(unverifiable, key=lambda u: u.filename, reverse=True))

    async def find(self, filename: str) -> Manifest:
        """The listed backup with exactly this name; a request's name is never made a path."""
        scan = await self.scan()
        for manifest in scan.backups:
            if manifest.filename == filename:
                return manifest
        raise _not_found(scan, filename)

    def stream(self, manifest: Manifest) -> AsyncIterator[bytes]:
        return self.store.stream(manifest.filename)

    async def verify_backup(self, filename: str) -> Manifest:
        manifest = await self.find(filename)
        await self._verify(manifest)
        return manifest

    # -- writing -------------------------------------------------------------------------

    async def create(self, *, kind: str = "manual", by: Actor | None = None) -> Manifest:
        async with exclusive_operation(self.url):
            manifest = await self._create_locked(kind, by)
        await self._apply_retention(keep=manifest.filename)
        return manifest

    def _level(self, kind: str) -> int:
        # Pre-restore backups are short-lived safety copies taken while the operator waits:
        # the fastest gzip level keeps the restore quick (they are a bit larger).
        return 1 if kind == PRE_RESTORE else self.settings.backup_compression_level

    async def _create_locked(self, kind: str, by: Actor | None = None) -> Manifest:
        try:
            return await self._dump_and_publish(kind, by)
        except DumpFailed as exc:
            log.error("backup.failed", reason=str(exc))
            raise BackupFailed(
                f"The backup failed: {exc}. Details are in the server log."
            ) from None
        except OSError as exc:
            log.error("backup.failed", reason="storage", error=exc.strerror or type(exc).__name__)
            raise BackupFailed(
                f"The backup failed: the backup storage refused the file ({exc.strerror or exc}). "
                "Free space or fix the folder's permissions, then try again."
            ) from None
        except Exception as exc:  # storage clients raise their own types; never a bare 500
            if isinstance(exc, KuraError) or is_database_outage(exc):
                raise
            log.error("backup.failed", reason="unexpected", error_type=type(exc).__name__)
            raise BackupFailed("The backup failed. Details are in the server log.") from None

    async def _dump_and_publish(self, kind: str, by: Actor | None) -> Manifest:
        now = datetime.now(UTC)
        name = new_backup_name(now, [b.name for b in await self.store.list("backup_")])
        # Streamed into the store (a resumable upload on GCS): no local copy, flat memory.
        with progress.step(f"{kind} backup"):
            async with self.store.upload(name) as sink:
                result = await dump_database(self.settings, self.url, sink, level=self._level(kind))
        manifest = Manifest(
            filename=name,
            kind=kind,
            created_at=now,
            size_bytes=result.size_bytes,
            sha256=result.sha256,
            app_version=__version__,
            schema_revision=result.schema_revision,
            pg_dump_version=result.pg_dump_version,
            server_version=result.server_version,
            database=str(self.url.database),
            compression_level=self._level(kind),
            tables=result.tables,
            key_id=self.keys.current.id,
        )
        # Data first, then the audit line, manifest last: a crash in between leaves an
        # unlisted file (the sweeper removes it), never a listed backup without its data or
        # its `backup.created` line.
        await self._audit_created(manifest, by or Actor())
        await self.store.put_bytes(manifest_name(name), sign(manifest, self.keys.current))
        log.info("backup.created", filename=name, size_bytes=manifest.size_bytes, kind=kind)
        return manifest

    async def _audit_created(self, manifest: Manifest, by: Actor) -> None:
        try:
            await self._record(AuditAction.BACKUP_CREATED, manifest, by, kind=manifest.kind)
        except ProgrammingError as exc:
            if not isinstance(exc.orig, psycopg.errors.UndefinedTable):
                raise
            # A database not migrated yet (no audit table): the backup matters more.
            log.warning("backup.not_audited", filename=manifest.filename, reason="no audit table")

    async def _record(
        self, action: AuditAction, manifest: Manifest, by: Actor, **details: str
    ) -> None:
        async with self.database.sessionmaker() as session, session.begin():
            await record(
                session,
                action,
                organization_id=by.organization_id,
                actor_id=by.user_id,
                target_type="backup",
                target_id=manifest.filename,
                ip=by.ip,
                details={"filename": manifest.filename, **details},
            )

    async def delete(self, filename: str, *, by: Actor | None = None) -> Manifest:
        scan = await self.scan()
        backups = scan.backups
        manifest = next((m for m in backups if m.filename == filename), None)
        if manifest is None:
            raise _not_found(scan, filename)
        if len(backups) == 1:
            raise BadRequest("This is the only backup; it cannot be deleted.")
        await self._remove(manifest.filename)
        await self._record(AuditAction.BACKUP_DELETED, manifest, by or Actor())
        return manifest

    async def _remove(self, filename: str) -> None:
        # Manifest first: the backup leaves the listing before its data goes.
        await self.store.delete(manifest_name(filename))
        await self.store.delete(filename)

    async def _apply_retention(self, *, keep: str) -> None:
        """Newest BACKUP_RETENTION_COUNT regular backups; pre-restore ones for
        BACKUP_PRERESTORE_DAYS. Runs only after a successful backup (`keep`)."""
        backups = await self.list_backups()
        regular = [m for m in backups if m.kind != PRE_RESTORE]
        expired = regular[self.settings.backup_retention_count :]
        cutoff = datetime.now(UTC) - timedelta(days=self.settings.backup_prerestore_days)
        expired += [m for m in backups if m.kind == PRE_RESTORE and m.created_at < cutoff]
        for manifest in expired:
            if manifest.filename != keep:
                await self._remove(manifest.filename)
                log.info("backup.retention_deleted", filename=manifest.filename)

    # -- restoring -----------------------------------------------------------------------

    async def restore(self, filename: str, *, by: Actor | None = None) -> RestoreResult:
        """All or nothing (see `swap`); any failure is a RestoreFailed, never a bare 500."""
        try:
            return await self._restore(filename, by)
        except Exception as exc:
            if isinstance(exc, KuraError) or is_database_outage(exc):
                raise
            log.error("restore.failed", reason="unexpected", error_type=type(exc).__name__)
            raise RestoreFailed("an unexpected error") from None

    async def _restore(self, filename: str, by: Actor | None) -> RestoreResult:
        manifest = await self.find(filename)
        live = str(self.url.database)
        await self._verify(manifest)
        async with exclusive_operation(self.url) as control:
            # The pre-restore backup (of the live database) and the load into the scratch
            # database touch different databases: run them side by side. Both must
            # succeed before the swap; if either fails the live database is untouched.
            by = by or Actor()
            intent = RestoreIntent(
                live=live,
                retired=retired_name(live),
                backup=manifest.filename,
                actor_id=str(by.user_id) if by.user_id else None,
                organization_id=str(by.organization_id) if by.organization_id else None,
                ip=by.ip,
            )
            pre_task = asyncio.create_task(self._create_locked(PRE_RESTORE))
            try:
                with progress.step("load", manifest.size_bytes):
                    scratch = await load_into_scratch(
                        self.settings, self.url, control, self._opener(manifest), manifest, intent
                    )
            except BaseException:
                await _settle(pre_task)
                raise
            try:
                pre_restore = await pre_task
                with progress.step("migrate and swap"):
                    await self._bring_schema_up(scratch, manifest)
                    await swap_in(
                        control,
                        scratch=scratch,
                        intent=intent,
                        seal=lambda: self._seal(scratch, intent, pre_restore.filename),
                    )
            except BaseException:
                await drop_database(control, scratch)
                raise
            # The app's pooled connections pointed at the replaced database.
            await self.database.engine.dispose()
            await drop_stale_copies(control, live, self.settings, keep=intent.retired)
        log.info("backup.restored", filename=filename, pre_restore=pre_restore.filename)
        return RestoreResult(manifest, pre_restore)

    async def _bring_schema_up(self, scratch: str, manifest: Manifest) -> None:
        """An older backup's schema is migrated in the scratch database, before it goes live."""
        # Alembic is imported only here: the API process does not need it to start.
        from kura.db.migrate import head_revisions, upgrade_heads

        if {manifest.schema_revision} != head_revisions():
            await asyncio.to_thread(upgrade_heads, self.url.set(database=scratch))

    async def _seal(self, scratch: str, intent: RestoreIntent, pre_restore: str) -> None:
        """Inside the new database: every earlier token rejected, the outcome audited. Both
        become true exactly when (and only if) it goes live."""
        database = Database.connect(self.url.set(database=scratch), pool_size=1)
        try:
            async with database.sessionmaker() as session, session.begin():
                await session.execute(
                    update(PlatformState)
                    .where(PlatformState.id == 1)
                    .values(auth_epoch=datetime.now(UTC))
                )
                await record_outcome(
                    session,
                    intent,
                    AuditAction.RESTORE_COMPLETED,
                    pre_restore_backup=pre_restore,
                )
        finally:
            await database.dispose()

    def _opener(self, manifest: Manifest) -> Callable[[], BinaryIO]:
        return lambda: self.store.open_read(manifest.filename)

    async def _verify(self, manifest: Manifest) -> None:
        try:
            with progress.step("verify", manifest.size_bytes):
                await asyncio.to_thread(verify_file, self._opener(manifest), manifest)
        except BackupCorrupt as exc:
            raise BackupUnusable(f"The backup cannot be used: {exc}.") from None
