"""/api/v1/admin/backups — the seed's backup API, for platform operators (superusers) only."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse

from kura.audit.service import AuditAction, record
from kura.auth.dependencies import SuperAdmin
from kura.auth.sessions import Authenticated
from kura.backups.schemas import (
    BackupCreated,
    BackupList,
    BackupRead,
    Deleted,
    RestoreDone,
    RestoreRequest,
    human_size,
)
from kura.backups.service import BackupService
from kura.db.session import DbSession, get_database
from kura.errors import BadRequest, KuraError
from kura.handlers import Responses
from kura.request_info import client_ip
from kura.storage.factory import backup_store

router = APIRouter(prefix="/admin/backups", tags=["backups"])
ERRORS: Responses = {
    401: {"description": "Not signed in"},
    403: {"description": "Not a platform operator"},
    409: {"description": "Another backup or restore is running"},
}


def _service(request: Request) -> BackupService:
    return BackupService(
        request.app.state.settings, backup_store(request.app.state.settings), get_database(request)
    )


async def _audit(
    request: Request, auth: Authenticated, action: AuditAction, filename: str, **details: str
) -> None:
    """Audit in a transaction of its own: restore replaces the database under the request."""
    database = get_database(request)
    async with database.sessionmaker() as session, session.begin():
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


@router.get("", response_model=BackupList, responses=ERRORS)
async def list_backups(request: Request, auth: SuperAdmin) -> BackupList:
    """Complete, verified backups, newest first."""
    service = _service(request)
    backups = [BackupRead.of(m) for m in await service.list_backups()]
    return BackupList(
        backups=backups, total_count=len(backups), storage_location=service.store.location
    )


@router.post("/create", response_model=BackupCreated, responses=ERRORS)
async def create_backup(request: Request, auth: SuperAdmin, session: DbSession) -> BackupCreated:
    """Take a backup now (pg_dump, verified, stored with a signed manifest)."""
    await session.commit()  # do not sit idle in a transaction while the dump runs
    manifest = await _service(request).create(kind="manual")
    await _audit(request, auth, AuditAction.BACKUP_CREATED, manifest.filename)
    return BackupCreated(
        success=True,
        filename=manifest.filename,
        size_human=human_size(manifest.size_bytes),
        sha256=manifest.sha256,
        message="Backup created and verified.",
    )


@router.post("/restore", response_model=RestoreDone, responses=ERRORS)
async def restore_backup(
    body: RestoreRequest, request: Request, auth: SuperAdmin, session: DbSession
) -> RestoreDone:
    """Replace the database with a backup, all or nothing; every session ends afterwards."""
    if body.confirm is not True:
        raise BadRequest("Restoring replaces the whole database. Send confirm: true to proceed.")
    service = _service(request)
    manifest = await service.find(body.filename)
    await _audit(request, auth, AuditAction.RESTORE_STARTED, manifest.filename)
    # Our own connection is about to be ended with every other one.
    await session.close()
    try:
        result = await service.restore(manifest.filename)
    except KuraError as exc:
        await _audit(request, auth, AuditAction.RESTORE_FAILED, manifest.filename, reason=exc.code)
        raise
    await _audit(
        request,
        auth,
        AuditAction.RESTORE_COMPLETED,
        manifest.filename,
        pre_restore_backup=result.pre_restore.filename,
    )
    return RestoreDone(
        success=True,
        filename=manifest.filename,
        pre_restore_backup=result.pre_restore.filename,
        message="Database restored. Every session has ended: sign in again.",
    )


@router.get(
    "/{filename}/download",
    response_class=StreamingResponse,
    responses={**ERRORS, 200: {"content": {"application/gzip": {}}}},
)
async def download_backup(filename: str, request: Request, auth: SuperAdmin) -> StreamingResponse:
    """Stream a backup file (gzip'd SQL) as an attachment."""
    service = _service(request)
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


@router.delete("/{filename}", response_model=Deleted, responses=ERRORS)
async def delete_backup(filename: str, request: Request, auth: SuperAdmin) -> Deleted:
    """Delete a backup and its manifest (never the only one left)."""
    manifest = await _service(request).delete(filename)
    await _audit(request, auth, AuditAction.BACKUP_DELETED, manifest.filename)
    return Deleted(success=True, filename=manifest.filename)
