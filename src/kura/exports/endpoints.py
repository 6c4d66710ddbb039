"""/api/v1/patients/{id}/export, /api/v1/practice/export and /api/v1/exports."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Request, status
from fastapi.responses import StreamingResponse

from kura.auth.dependencies import CurrentAuth
from kura.db.session import DbSession
from kura.exports import service
from kura.exports.auth import PatientExporter, PracticeExporter
from kura.exports.models import DataExport, ExportKind
from kura.exports.schemas import ExportPage, ExportRead
from kura.handlers import Responses
from kura.pagination import Pagination, paginate
from kura.request_info import client_ip
from kura.storage.blobs import BlobStore

router = APIRouter(tags=["exports"])
MISSING: Responses = {404: {"description": "No such export of yours"}}
QUEUED: Responses = {202: {"description": "The export is queued; poll it until READY"}}


@router.post(
    "/patients/{patient_id}/export",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=ExportRead,
    responses={
        **QUEUED,
        403: {"description": "Assistants cannot export records"},
        404: {"description": "No such patient"},
    },
)
async def export_patient(
    patient_id: uuid.UUID, request: Request, auth: PatientExporter, session: DbSession
) -> DataExport:
    """Start building a patient's export (ZIP of JSON parts and a PDF; private notes left out)."""
    return await service.request_export(
        session, auth, kind=ExportKind.PATIENT, patient_id=patient_id, ip=client_ip(request)
    )


@router.post(
    "/practice/export",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=ExportRead,
    responses={
        **QUEUED,
        403: {"description": "Not the practice owner, or no fresh two-step verification"},
    },
)
async def export_practice(
    request: Request, auth: PracticeExporter, session: DbSession
) -> DataExport:
    """Start building the whole practice's export (every patient, staff, services, settings)."""
    return await service.request_export(
        session, auth, kind=ExportKind.PRACTICE, ip=client_ip(request)
    )


@router.get("/exports", response_model=ExportPage)
async def list_exports(auth: CurrentAuth, session: DbSession, pages: Pagination) -> ExportPage:
    """Your own exports, newest first."""
    statement = service.own_exports(auth).order_by(
        DataExport.created_at.desc(), DataExport.id.desc()
    )
    rows, total = await paginate(session, statement, pages)
    return ExportPage.of(rows, total, pages)


@router.get("/exports/{export_id}", response_model=ExportRead, responses=MISSING)
async def get_export(export_id: uuid.UUID, auth: CurrentAuth, session: DbSession) -> DataExport:
    """One of your exports: its status and progress."""
    return await service.get_own(session, auth, export_id)


@router.get(
    "/exports/{export_id}/download",
    response_class=StreamingResponse,
    responses={
        **MISSING,
        200: {
            "content": {"application/zip": {"schema": {"type": "string", "format": "binary"}}},
            "description": "The export (ZIP), as an attachment",
        },
        409: {"description": "The export is not READY (queued, running or failed)"},
        410: {"description": "The export has expired and its file was deleted"},
    },
)
async def download_export(
    export_id: uuid.UUID, request: Request, auth: CurrentAuth, session: DbSession
) -> StreamingResponse:
    """Download one of your READY exports (only its requester can)."""
    export, store, name = await service.open_download(
        session, auth, request.app.state.settings, export_id, ip=client_ip(request)
    )
    return zip_response(export, store, name)


def zip_response(export: DataExport, store: BlobStore, name: str) -> StreamingResponse:
    """The export's file as an attachment named without any patient's name."""
    headers = {"Content-Disposition": f'attachment; filename="{service.download_filename(export)}"'}
    if export.size_bytes is not None:
        headers["Content-Length"] = str(export.size_bytes)
    return StreamingResponse(store.stream(name), media_type="application/zip", headers=headers)
