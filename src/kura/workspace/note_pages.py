"""Clinical notes from the chart: write a draft, sign it (locked from then on), add a signed
addendum. Clinicians only; each write audited as the API's."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError

from kura.audit.service import AuditAction
from kura.clinical import repository, service
from kura.clinical.audit import audit_note
from kura.clinical.models import ClinicalNote
from kura.clinical.schemas import AddendumCreate, NoteCreate
from kura.db.session import DbSession
from kura.patients.repository import get_readable as get_patient
from kura.request_info import client_ip
from kura.workspace.patient_pages import render_chart
from kura.workspace.web import (
    PREFIX,
    CheckedForm,
    Clinician,
    WorkspaceRoute,
    error_page,
    field_errors,
    form_fields,
    redirect,
)

router = APIRouter(prefix=PREFIX, route_class=WorkspaceRoute, include_in_schema=False)


def _at(note: ClinicalNote) -> RedirectResponse:
    return redirect(f"{PREFIX}/patients/{note.patient_id}#note-{note.id}")


@router.post("/patients/{patient_id}/notes")
async def write_note(
    patient_id: uuid.UUID, request: Request, auth: Clinician, form: CheckedForm, session: DbSession
) -> Response:
    """Save a draft note (session notes are screened by AletheIA like the API's)."""
    patient = await get_patient(session, auth, patient_id)
    draft = form_fields(form, ("type", "content"), checkboxes=("is_private",))
    try:
        body = NoteCreate.model_validate(draft)
    except ValidationError as exc:
        return await render_chart(
            request,
            auth,
            session,
            patient,
            status_code=422,
            draft=draft,
            errors=field_errors(exc, request),
        )
    note = await service.create_note(session, auth, patient, body)
    await audit_note(session, auth, AuditAction.NOTE_CREATED, note, ip=client_ip(request))
    return _at(note)


@router.post("/notes/{note_id}/sign")
async def sign_note(
    note_id: uuid.UUID, request: Request, auth: Clinician, form: CheckedForm, session: DbSession
) -> RedirectResponse:
    """Sign the draft: it cannot change after this (addenda only)."""
    note = await repository.get_readable(session, auth, note_id, for_update=True)
    note = await service.sign_note(session, auth, note)
    await audit_note(session, auth, AuditAction.NOTE_SIGNED, note, ip=client_ip(request))
    return _at(note)


@router.post("/notes/{note_id}/addenda")
async def add_addendum(
    note_id: uuid.UUID, request: Request, auth: Clinician, form: CheckedForm, session: DbSession
) -> Response:
    """Append a signed addendum to a signed note."""
    note = await repository.get_readable(session, auth, note_id, for_update=True)
    try:
        body = AddendumCreate.model_validate(form_fields(form, ("content",)))
    except ValidationError:
        return error_page(request, 422, "addendum_empty")
    note = await service.add_addendum(session, auth, note, body.content)
    await audit_note(
        session,
        auth,
        AuditAction.NOTE_ADDENDUM_ADDED,
        note,
        ip=client_ip(request),
        addenda=len(note.addenda),
    )
    return _at(note)
