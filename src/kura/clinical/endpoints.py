"""Clinical notes: OWNER and THERAPIST only; every read and write is audited."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from kura.audit.service import AuditAction
from kura.auth.dependencies import ClinicalStaff
from kura.auth.sessions import Authenticated
from kura.clinical import repository, service
from kura.clinical.audit import audit_note, audit_notes_shown
from kura.clinical.models import ClinicalNote
from kura.clinical.schemas import (
    AddendumCreate,
    NoteCreate,
    NotePage,
    NoteRead,
    NoteUpdate,
    NoteVersionPage,
    StrikeRequest,
)
from kura.db.session import DbSession
from kura.handlers import Responses
from kura.pagination import Pagination, paginate
from kura.patients.repository import get_readable as get_patient
from kura.request_info import client_ip

router = APIRouter(tags=["notes"])
FORBIDDEN_OR_MISSING: Responses = {
    403: {"description": "Assistants cannot see clinical content"},
    404: {"description": "Not in your organization, or a private note of someone else"},
}
WRITE_ERRORS: Responses = {
    **FORBIDDEN_OR_MISSING,
    400: {"description": "Sections do not match the template, or the booking is not the patient's"},
    409: {"description": "The note is signed (or not signed, for addenda and strike-through)"},
}


async def _audit(
    session: DbSession,
    auth: Authenticated,
    request: Request,
    action: AuditAction,
    note: ClinicalNote,
    **details: object,
) -> None:
    await audit_note(session, auth, action, note, ip=client_ip(request), **details)


@router.get("/patients/{patient_id}/notes", response_model=NotePage, responses=FORBIDDEN_OR_MISSING)
async def list_notes(
    patient_id: uuid.UUID,
    auth: ClinicalStaff,
    request: Request,
    session: DbSession,
    pages: Pagination,
    deleted: Annotated[
        bool, Query(description="Only the deleted drafts still restorable (30 days)")
    ] = False,
) -> NotePage:
    """A patient's notes, newest first (or their deleted drafts)."""
    patient = await get_patient(session, auth, patient_id)
    statement = repository.readable(auth, include_deleted=deleted).where(
        ClinicalNote.patient_id == patient.id
    )
    if deleted:
        statement = statement.where(ClinicalNote.deleted_at.is_not(None))
    statement = statement.order_by(ClinicalNote.created_at.desc(), ClinicalNote.id)
    rows, total = await paginate(session, statement, pages)
    await audit_notes_shown(session, auth, patient.id, list(rows), ip=client_ip(request))
    return NotePage.of(rows, total, pages)


@router.post(
    "/patients/{patient_id}/notes", response_model=NoteRead, status_code=201, responses=WRITE_ERRORS
)
async def create_note(
    patient_id: uuid.UUID,
    body: NoteCreate,
    auth: ClinicalStaff,
    request: Request,
    session: DbSession,
) -> ClinicalNote:
    """Write a draft note about a patient (session notes are screened by AletheIA)."""
    patient = await get_patient(session, auth, patient_id)
    note = await service.create_note(session, auth, patient, body)
    await _audit(session, auth, request, AuditAction.NOTE_CREATED, note)
    return note


@router.get("/notes/{note_id}", response_model=NoteRead, responses=FORBIDDEN_OR_MISSING)
async def get_note(
    note_id: uuid.UUID, auth: ClinicalStaff, request: Request, session: DbSession
) -> ClinicalNote:
    """One note with its addenda (a deleted draft too, while restorable)."""
    note = await repository.get_readable(session, auth, note_id, include_deleted=True)
    await _audit(session, auth, request, AuditAction.NOTE_VIEWED, note)
    return note


@router.patch("/notes/{note_id}", response_model=NoteRead, responses=WRITE_ERRORS)
async def update_note(
    note_id: uuid.UUID, body: NoteUpdate, auth: ClinicalStaff, request: Request, session: DbSession
) -> ClinicalNote:
    """Change a draft (a day-old draft keeps its previous text as a version)."""
    note = await repository.get_readable(session, auth, note_id, for_update=True)
    note = await service.update_note(session, auth, note, body)
    await _audit(
        session,
        auth,
        request,
        AuditAction.NOTE_UPDATED,
        note,
        fields=sorted(body.model_dump(exclude_unset=True)),
        version=note.version,
    )
    return note


@router.delete("/notes/{note_id}", status_code=204, responses=WRITE_ERRORS)
async def delete_note(
    note_id: uuid.UUID, auth: ClinicalStaff, request: Request, session: DbSession
) -> Response:
    """Delete a draft (restorable for 30 days); a signed note is struck through instead."""
    note = await repository.get_readable(session, auth, note_id, for_update=True)
    await service.delete_draft(session, auth, note)
    await _audit(session, auth, request, AuditAction.NOTE_DELETED, note)
    return Response(status_code=204)


@router.post(
    "/notes/{note_id}/restore",
    response_model=NoteRead,
    responses={**WRITE_ERRORS, 410: {"description": "Deleted more than 30 days ago"}},
)
async def restore_note(
    note_id: uuid.UUID, auth: ClinicalStaff, request: Request, session: DbSession
) -> ClinicalNote:
    """Bring back a deleted draft."""
    note = await repository.get_readable(
        session, auth, note_id, include_deleted=True, for_update=True
    )
    note = await service.restore_draft(session, auth, note)
    await _audit(session, auth, request, AuditAction.NOTE_RESTORED, note)
    return note


@router.post("/notes/{note_id}/sign", response_model=NoteRead, responses=WRITE_ERRORS)
async def sign_note(
    note_id: uuid.UUID, auth: ClinicalStaff, request: Request, session: DbSession
) -> ClinicalNote:
    """Sign a draft: it is locked from then on (its author signs)."""
    note = await repository.get_readable(session, auth, note_id, for_update=True)
    note = await service.sign_note(session, auth, note)
    await _audit(session, auth, request, AuditAction.NOTE_SIGNED, note)
    return note


@router.post(
    "/notes/{note_id}/addenda", response_model=NoteRead, status_code=201, responses=WRITE_ERRORS
)
async def add_addendum(
    note_id: uuid.UUID,
    body: AddendumCreate,
    auth: ClinicalStaff,
    request: Request,
    session: DbSession,
) -> ClinicalNote:
    """Append a signed addendum to a signed note."""
    note = await repository.get_readable(session, auth, note_id, for_update=True)
    note = await service.add_addendum(session, auth, note, body.content)
    await _audit(
        session, auth, request, AuditAction.NOTE_ADDENDUM_ADDED, note, addenda=len(note.addenda)
    )
    return note


@router.post("/notes/{note_id}/strike", response_model=NoteRead, responses=WRITE_ERRORS)
async def strike_note(
    note_id: uuid.UUID,
    body: StrikeRequest,
    auth: ClinicalStaff,
    request: Request,
    session: DbSession,
) -> ClinicalNote:
    """Strike a signed note through (entered in error), with a reason; its text stays."""
    note = await repository.get_readable(session, auth, note_id, for_update=True)
    note = await service.strike_note(session, auth, note, body.reason)
    await _audit(session, auth, request, AuditAction.NOTE_STRUCK, note)
    return note


@router.get(
    "/notes/{note_id}/versions",
    response_model=NoteVersionPage,
    responses=FORBIDDEN_OR_MISSING,
)
async def list_versions(
    note_id: uuid.UUID,
    auth: ClinicalStaff,
    request: Request,
    session: DbSession,
    pages: Pagination,
) -> NoteVersionPage:
    """The texts a draft had before each later edit, oldest first."""
    note = await repository.get_readable(session, auth, note_id, include_deleted=True)
    rows, total = await paginate(session, service.versions_of(note), pages)
    await _audit(session, auth, request, AuditAction.NOTE_VIEWED, note, versions=True)
    return NoteVersionPage.of(rows, total, pages)
