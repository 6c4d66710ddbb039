"""Every read and write of a note is audited the same way, from the API and the workspace."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from kura.audit.service import AuditAction, record
from kura.auth.sessions import Authenticated
from kura.clinical.models import ClinicalNote


async def audit_note(
    session: AsyncSession,
    auth: Authenticated,
    action: AuditAction,
    note: ClinicalNote,
    *,
    ip: str | None,
    **details: object,
) -> None:
    await record(
        session,
        action,
        organization_id=auth.user.organization_id,
        actor_id=auth.user.id,
        target_type="note",
        target_id=note.id,
        ip=ip,
        details={"patient_id": str(note.patient_id), **details},
    )


async def audit_notes_shown(
    session: AsyncSession,
    auth: Authenticated,
    patient_id: uuid.UUID,
    notes: list[ClinicalNote],
    *,
    ip: str | None,
) -> None:
    """One row for a page of a patient's notes: which ones were shown."""
    await record(
        session,
        AuditAction.NOTE_VIEWED,
        organization_id=auth.user.organization_id,
        actor_id=auth.user.id,
        target_type="patient",
        target_id=patient_id,
        ip=ip,
        details={"patient_id": str(patient_id), "notes": [str(n.id) for n in notes]},
    )
