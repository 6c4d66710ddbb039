"""The owner's record actions on a chart: delete a patient (the record is restricted — out of
lists, monitoring stopped — and erased when its retention ends, counted from the discharge
date) and undo that before the erasure. The same service and audit rows as the API's."""

from __future__ import annotations

import uuid
from datetime import date

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from kura.db.session import DbSession
from kura.errors import KuraError
from kura.patients import retention
from kura.patients.repository import get_readable
from kura.request_info import client_ip
from kura.workspace.patient_pages import render_chart
from kura.workspace.web import (
    PREFIX,
    CheckedForm,
    Owner,
    WorkspaceRoute,
    error_page,
    error_text,
    recover,
    redirect,
)

router = APIRouter(prefix=PREFIX, route_class=WorkspaceRoute, include_in_schema=False)


@router.post("/patients/{patient_id}/delete")
async def delete_patient(
    patient_id: uuid.UUID, request: Request, auth: Owner, form: CheckedForm, session: DbSession
) -> Response:
    """Restrict the record from the discharge date given (today when blank)."""
    patient = await get_readable(session, auth, patient_id)
    if form.get("confirm") is None:
        return error_page(request, 400, "record_confirm_missing")
    typed = str(form.get("discharged_on", "")).strip()
    try:
        discharged_on = date.fromisoformat(typed) if typed else None
    except ValueError:
        return error_page(request, 400, "error_date")
    try:
        await retention.restrict_patient(
            session, auth, patient, discharged_on=discharged_on, ip=client_ip(request)
        )
    except KuraError as exc:
        await recover(request)  # the refused change undone; the chart's read is still audited
        await session.refresh(patient)
        return await render_chart(
            request,
            auth,
            session,
            patient,
            status_code=exc.status_code,
            errors={"record": error_text(request, exc)},
        )
    return redirect(f"{PREFIX}/patients/{patient.id}#record")


@router.post("/patients/{patient_id}/undelete")
async def undelete_patient(
    patient_id: uuid.UUID, request: Request, auth: Owner, form: CheckedForm, session: DbSession
) -> RedirectResponse:
    """Give the record back before its erasure (monitoring stays off)."""
    patient = await get_readable(session, auth, patient_id, include_restricted=True)
    await retention.lift_restriction(session, auth, patient, ip=client_ip(request))
    return redirect(f"{PREFIX}/patients/{patient.id}#record")
