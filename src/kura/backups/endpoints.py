"""/api/v1/admin/backups — the seed's backup API, for platform operators (superusers) only."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse

from kura.auth.dependencies import SuperAdmin
from kura.auth.stepup import SuperAdminStepUp
from kura.backups import operations
from kura.backups.schemas import (
    BackupCreated,
    BackupPage,
    BackupRead,
    Deleted,
    RestoreDone,
    RestoreRequest,
    UnverifiableRead,
    human_size,
)
from kura.db.session import DbSession
from kura.errors import BadRequest
from kura.handlers import Responses
from kura.pagination import Pagination

router = APIRouter(prefix="/admin/backups", tags=["backups"])
# 401, 403 (SuperAdmin), 404 for a {filename} and the rest are added in kura.openapi.
ERRORS: Responses = {
    403: {"description": "Not a platform operator, or not past two-step verification"}
}
BUSY: Responses = {409: {"description": "Another backup or restore is running"}}
MISSING: Responses = {404: {"description": "No such backup (or it cannot be verified)"}}
PG_TOOLS: Responses = {
    503: {"description": "pg_dump/psql is not installed, or the database is unavailable"}
}


@router.get("", response_model=BackupPage, responses=ERRORS)
async def list_backups(request: Request, auth: SuperAdmin, pages: Pagination) -> BackupPage:
    """Complete, verified backups, newest first; `unverifiable` lists the ones left out."""
    service = operations.backup_service(request)
    scan = await service.scan()
    return BackupPage.of(
        [BackupRead.of(m) for m in pages.slice(scan.backups)],
        len(scan.backups),
        pages,
        storage_location=service.store.location,
        unverifiable=[
            UnverifiableRead(filename=u.filename, key_id=u.key_id, reason=u.reason)
            for u in scan.unverifiable
        ],
    )


@router.post(
    "/create",
    response_model=BackupCreated,
    responses={
        **ERRORS,
        **BUSY,
        **PG_TOOLS,
        500: {"description": "The backup failed (`backup_failed`; details in the server log)"},
    },
)
async def create_backup(request: Request, auth: SuperAdmin, session: DbSession) -> BackupCreated:
    """Take a backup now (pg_dump, verified, stored with a signed manifest)."""
    manifest = await operations.create_backup(request, auth, session)
    return BackupCreated(
        success=True,
        filename=manifest.filename,
        size_human=human_size(manifest.size_bytes),
        sha256=manifest.sha256,
        message="Backup created and verified.",
    )


@router.post(
    "/restore",
    response_model=RestoreDone,
    responses={
        **ERRORS,
        **BUSY,
        **MISSING,
        **PG_TOOLS,
        400: {"description": "`confirm` is not true"},
        422: {"description": "The request does not match the schema, or the backup is unusable"},
        500: {"description": "The restore failed; the live database is untouched"},
    },
)
async def restore_backup(
    body: RestoreRequest, request: Request, auth: SuperAdminStepUp, session: DbSession
) -> RestoreDone:
    """Replace the database with a backup, all or nothing; every session ends afterwards."""
    if body.confirm is not True:
        raise BadRequest("Restoring replaces the whole database. Send confirm: true to proceed.")
    manifest, result = await operations.restore_backup(request, auth, session, body.filename)
    return RestoreDone(
        success=True,
        filename=manifest.filename,
        pre_restore_backup=result.pre_restore.filename,
        message="Database restored. Every session has ended: sign in again.",
    )


@router.get(
    "/{filename}/download",
    response_class=StreamingResponse,
    responses={
        **ERRORS,
        **MISSING,
        200: {
            "content": {"application/gzip": {"schema": {"type": "string", "format": "binary"}}},
            "description": "The backup file (gzip'd SQL), as an attachment",
        },
    },
)
async def download_backup(
    filename: str, request: Request, auth: SuperAdminStepUp
) -> StreamingResponse:
    """Stream a backup file (gzip'd SQL) as an attachment."""
    return await operations.download_backup(request, auth, filename)


@router.delete(
    "/{filename}",
    response_model=Deleted,
    responses={**ERRORS, **MISSING, 400: {"description": "It is the only backup"}},
)
async def delete_backup(filename: str, request: Request, auth: SuperAdmin) -> Deleted:
    """Delete a backup and its manifest (never the only one left)."""
    manifest = await operations.delete_backup(request, auth, filename)
    return Deleted(success=True, filename=manifest.filename)
