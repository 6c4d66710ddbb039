"""Backup actions taken by an operator, each audited (the API and the console both call these)."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import StreamingResponse
from sqlalchemy.ext.asyncio import AsyncSession

from kura.audit.service import AuditAction, record
from kura.auth.sessions import Authenticated
from kura.backups.manifest import Manifest
from kura.backups.outcomes import Actor
from kura.backups.service import BackupService, RestoreResult
from kura.db.session import get_database
from kura.errors import KuraError
from kura.request_info import client_ip
from kura.storage.factory import backup_store


def backup_service(request: Request) -> BackupService:
    return BackupService(
        request.app.state.settings, backup_store(request.app.state.settings), get_database(request)
    )


async def _audit(
    request: Request, auth: Authenticated, action: AuditAction, filename: str, **details: str
) -> None:
    """Audit in a transaction of its own: restore replaces the database under the request."""
    async with get_database(request).sessionmaker() as session, session.begin():
        await record(
            session,
            action,
            organization_id=auth.user.organization_id,
            actor_id=auth.user.id,
            target_type="backup",
            target_id=filename,
            ip=client_ip(request),
            details={"filename": filename, **details},
        )


async def create_backup(request: Request, auth: Authenticated, session: AsyncSession) -> Manifest:
    await session.commit()  # do not sit idle in a transaction while the dump runs
    by = Actor(auth.user.id, auth.user.organization_id, client_ip(request))
    return await backup_service(request).create(kind="manual", by=by)


async def restore_backup(
    request: Request, auth: Authenticated, session: AsyncSession, filename: str
) -> tuple[Manifest, RestoreResult]:
    service = backup_service(request)
    manifest = await service.find(filename)
    await _audit(request, auth, AuditAction.RESTORE_STARTED, manifest.filename)
    await session.close()  # our own connection is about to be ended with every other one
    by = Actor(auth.user.id, auth.user.organization_id, client_ip(request))
    try:
        # `restore.completed` is written by the restore itself, inside the restored database.
        result = await service.restore(manifest.filename, by=by)
    except KuraError as exc:
        await _audit(request, auth, AuditAction.RESTORE_FAILED, manifest.filename, reason=exc.code)
        raise
    return manifest, result


async def delete_backup(request: Request, auth: Authenticated, filename: str) -> Manifest:
    by = Actor(auth.user.id, auth.user.organization_id, client_ip(request))
    return await backup_service(request).delete(filename, by=by)


async def download_backup(
    request: Request, auth: Authenticated, filename: str
) -> StreamingResponse:
    service = backup_service(request)
    manifest = await service.find(filename)
    await _audit(request, auth, AuditAction.BACKUP_DOWNLOADED, manifest.filename)
    return StreamingResponse(
        service.stream(manifest),
        media_type="application/gzip",
        headers={
            "Content-Disposition": f'attachment; filename="{manifest.filename}"',
            "Content-Length": str(manifest.size_bytes),
        },
    )
