"""The console's backups page: list, create, download, delete and restore (typed confirmation)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse

from kura.auth.dependencies import clear_session_cookie
from kura.backups import operations
from kura.backups.naming import is_backup_name
from kura.backups.schemas import BackupRead
from kura.console.web import (
    PREFIX,
    CheckedForm,
    ConsoleRoute,
    FreshOperator,
    Operator,
    form_text,
    render,
)
from kura.db.session import DbSession

router = APIRouter(prefix=f"{PREFIX}/backups", route_class=ConsoleRoute, include_in_schema=False)
BackupName = Annotated[str, Path(max_length=64)]


def _known_name(value: str | None) -> str | None:
    return value if value and is_backup_name(value) else None


@router.get("", response_class=HTMLResponse)
async def backups_page(
    request: Request,
    auth: Operator,
    created: Annotated[str | None, Query(max_length=64)] = None,
    deleted: Annotated[str | None, Query(max_length=64)] = None,
) -> HTMLResponse:
    """Every complete, verified backup, newest first, with its actions."""
    service = operations.backup_service(request)
    backups = [BackupRead.of(m) for m in await service.list_backups()]
    return render(
        request,
        "backups.html",
        page="backups",
        backups=backups,
        storage_location=service.store.location,
        created=_known_name(created),
        deleted=_known_name(deleted),
    )


@router.post("/create")
async def create(
    request: Request, auth: Operator, form: CheckedForm, session: DbSession
) -> RedirectResponse:
    """Take a backup now; back to the list, which names it."""
    manifest = await operations.create_backup(request, auth, session)
    return RedirectResponse(f"{PREFIX}/backups?created={manifest.filename}", status_code=303)


@router.get("/{filename}/download")
async def download(
    filename: BackupName, request: Request, auth: FreshOperator
) -> StreamingResponse:
    """The backup file itself (gzip'd SQL)."""
    return await operations.download_backup(request, auth, filename)


@router.get("/{filename}/delete", response_class=HTMLResponse)
async def confirm_delete(filename: BackupName, request: Request, auth: Operator) -> HTMLResponse:
    """Ask before deleting (the page the dialog stands for when scripts are off)."""
    manifest = await operations.backup_service(request).find(filename)
    return render(request, "confirm_delete.html", page="backups", backup=BackupRead.of(manifest))


@router.post("/{filename}/delete")
async def delete(
    filename: BackupName, request: Request, auth: Operator, form: CheckedForm
) -> RedirectResponse:
    """Delete a backup and its manifest."""
    manifest = await operations.delete_backup(request, auth, filename)
    return RedirectResponse(f"{PREFIX}/backups?deleted={manifest.filename}", status_code=303)


@router.get("/{filename}/restore", response_class=HTMLResponse)
async def confirm_restore(
    filename: BackupName, request: Request, auth: FreshOperator
) -> HTMLResponse:
    """The typed confirmation a restore needs."""
    manifest = await operations.backup_service(request).find(filename)
    return render(request, "confirm_restore.html", page="backups", backup=BackupRead.of(manifest))


@router.post("/{filename}/restore")
async def restore(
    filename: BackupName,
    request: Request,
    auth: FreshOperator,
    form: CheckedForm,
    session: DbSession,
) -> Response:
    """Replace the database with this backup; every session ends, so the operator signs in again."""
    typed = form_text(form, "confirm_name", max_length=64)
    if typed != filename:
        manifest = await operations.backup_service(request).find(filename)
        return render(
            request,
            "confirm_restore.html",
            400,
            page="backups",
            backup=BackupRead.of(manifest),
            error="The name you typed does not match this backup. Nothing was restored.",
        )
    manifest, result = await operations.restore_backup(request, auth, session, filename)
    # Every session ended with the restore, this one too: the page says so and links to sign-in.
    request.state.csrf_token = None
    request.state.signed_in_as = None
    request.state.is_operator = False
    response = render(
        request,
        "restored.html",
        restored=manifest.filename,
        pre_restore=result.pre_restore.filename,
    )
    clear_session_cookie(response)
    return response
