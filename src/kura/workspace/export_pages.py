"""Exports from the browser: a patient's record from the chart (clinicians), then the list of
your own exports while the job builds them, and the download. Same service as the API: only
the requester sees or downloads an export, every request and download audited."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, StreamingResponse
from sqlalchemy import select

from kura.briefings.content import practice_zone
from kura.db.session import DbSession
from kura.exports import service
from kura.exports.endpoints import zip_response
from kura.exports.models import DataExport, ExportKind
from kura.exports.service import IN_FLIGHT
from kura.patients.models import Patient
from kura.request_info import client_ip
from kura.workspace.web import (
    PREFIX,
    CheckedForm,
    Clinician,
    Staff,
    WorkspaceRoute,
    redirect,
    render,
)

router = APIRouter(prefix=PREFIX, route_class=WorkspaceRoute, include_in_schema=False)
EXPORTS = f"{PREFIX}/exports"
SHOWN = 20


@router.post("/patients/{patient_id}/export")
async def export_patient(
    patient_id: uuid.UUID, request: Request, auth: Clinician, form: CheckedForm, session: DbSession
) -> RedirectResponse:
    """Queue the patient's export (a ZIP with a PDF; private notes left out)."""
    await service.request_export(
        session, auth, kind=ExportKind.PATIENT, patient_id=patient_id, ip=client_ip(request)
    )
    return redirect(EXPORTS)


@router.get("/exports")
async def exports_page(request: Request, auth: Staff, session: DbSession) -> HTMLResponse:
    """Your exports, newest first; the page refreshes itself while one is being built."""
    rows = list(
        await session.scalars(
            service.own_exports(auth)
            .order_by(DataExport.created_at.desc(), DataExport.id.desc())
            .limit(SHOWN)
        )
    )
    patient_ids = {row.patient_id for row in rows if row.patient_id is not None}
    found = await session.execute(
        select(Patient.id, Patient.full_name).where(
            Patient.organization_id == auth.organization.id, Patient.id.in_(patient_ids)
        )
    )
    names = {patient_id: name for patient_id, name in found.all()}
    return render(
        request,
        "exports.html",
        page="patients",
        exports=rows,
        names=names,
        building=any(row.status in IN_FLIGHT for row in rows),
        zone=practice_zone(auth.organization.timezone),
    )


@router.get("/exports/{export_id}/download")
async def download(
    export_id: uuid.UUID, request: Request, auth: Staff, session: DbSession
) -> StreamingResponse:
    """The ZIP of one of your READY exports (audited)."""
    export, store, name = await service.open_download(
        session, auth, request.app.state.settings, export_id, ip=client_ip(request)
    )
    await session.commit()  # the download's audit row, before the file streams
    response = zip_response(export, store, name)
    response.headers["Cache-Control"] = "no-store"
    return response
