"""Clinical notes: OWNER and THERAPIST only; every read and write is audited."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Request, Response

from kura.audit.service import AuditAction, record
from kura.auth.dependencies import ClinicalStaff
from kura.auth.sessions import Authenticated
from kura.clinical import repository
from kura.clinical.models import ClinicalNote
from kura.clinical.schemas import NoteCreate, NotePage, NoteRead, NoteUpdate
from kura.db.session import DbSession
from kura.handlers import Responses
from kura.pagination import Pagination, paginate
from kura.patients.repository import get_readable as get_patient
from kura.request_info import client_ip

router = APIRouter(tags=["notes"])
FORBIDDEN_OR_MISSING: Responses = {
    403: {"description": "Assistants cannot see clinical content"},
    404: {"description": "Not in your organization"},
}


async def _audit(
    session: DbSession,
    auth: Authenticated,
    request: Request,
    action: AuditAction,
    *,
    target_type: str,
    target_id: uuid.UUID,
    patient_id: uuid.UUID,
) -> None:
    await record(
        session,
        action,
        organization_id=auth.user.organization_id,
        actor_id=auth.user.id,
        target_type=target_type,
        target_id=target_id,
        ip=client_ip(request),
        details={"patient_id": str(patient_id)},
    )


@router.get("/patients/{patient_id}/notes", response_model=NotePage, responses=FORBIDDEN_OR_MISSING)
async def list_notes(
    patient_id: uuid.UUID,
    auth: ClinicalStaff,
    request: Request,
    session: DbSession,
    pages: Pagination,
) -> NotePage:
    """A patient's notes, newest first."""
    patient = await get_patient(session, auth, patient_id)
    statement = (
        repository.readable(auth)
        .where(ClinicalNote.patient_id == patient.id)
        .order_by(ClinicalNote.created_at.desc(), ClinicalNote.id)
    )
    rows, total = await paginate(session, statement, pages)
    await _audit(
        session,
        auth,
        request,
        AuditAction.NOTE_VIEWED,
        target_type="patient",
        target_id=patient.id,
        patient_id=patient.id,
    )
    return NotePage.of(rows, total, pages)


@router.post(
    "/patients/{patient_id}/notes",
    response_model=NoteRead,
    status_code=201,
    responses=FORBIDDEN_OR_MISSING,
)
async def create_note(
    patient_id: uuid.UUID,
    body: NoteCreate,
    auth: ClinicalStaff,
    request: Request,
    session: DbSession,
) -> ClinicalNote:
    """Write a note about a patient."""
    patient = await get_patient(session, auth, patient_id)
    note = ClinicalNote(
        organization_id=auth.user.organization_id,
        patient_id=patient.id,
        created_by_id=auth.user.id,
        type=body.type,
        content=body.content,
    )
    session.add(note)
    await session.flush()
    await session.refresh(note)
    await _audit(
        session,
        auth,
        request,
        AuditAction.NOTE_CREATED,
        target_type="note",
        target_id=note.id,
        patient_id=note.patient_id,
    )
    return note


@router.get("/notes/{note_id}", response_model=NoteRead, responses=FORBIDDEN_OR_MISSING)
async def get_note(
    note_id: uuid.UUID, auth: ClinicalStaff, request: Request, session: DbSession
) -> ClinicalNote:
    """One note."""
    note = await repository.get_readable(session, auth, note_id)
    await _audit(
        session,
        auth,
        request,
        AuditAction.NOTE_VIEWED,
        target_type="note",
        target_id=note.id,
        patient_id=note.patient_id,
    )
    return note


@router.patch("/notes/{note_id}", response_model=NoteRead, responses=FORBIDDEN_OR_MISSING)
async def update_note(
    note_id: uuid.UUID, body: NoteUpdate, auth: ClinicalStaff, request: Request, session: DbSession
) -> ClinicalNote:
    """Change a note's type or text."""
    note = await repository.get_readable(session, auth, note_id)
    for field, value in body.model_dump(exclude_unset=True, exclude_none=True).items():
        setattr(note, field, value)
    await session.flush()
    await session.refresh(note)
    await _audit(
        session,
        auth,
        request,
        AuditAction.NOTE_UPDATED,
        target_type="note",
        target_id=note.id,
        patient_id=note.patient_id,
    )
    return note


@router.delete("/notes/{note_id}", status_code=204, responses=FORBIDDEN_OR_MISSING)
async def delete_note(
    note_id: uuid.UUID, auth: ClinicalStaff, request: Request, session: DbSession
) -> Response:
    """Delete a note."""
    note = await repository.get_readable(session, auth, note_id)
    await _audit(
        session,
        auth,
        request,
        AuditAction.NOTE_DELETED,
        target_type="note",
        target_id=note.id,
        patient_id=note.patient_id,
    )
    await session.delete(note)
    await session.flush()
    return Response(status_code=204)
