"""The one place clinical-note queries are scoped: the caller's organization, and private notes
only for their author and the practice owner."""

from __future__ import annotations

import uuid

from sqlalchemy import Select, exists, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from kura.auth.sessions import Authenticated
from kura.clinical.models import ClinicalNote
from kura.errors import NotFound
from kura.patients.models import Patient
from kura.users.models import Role


def readable(auth: Authenticated, *, include_deleted: bool = False) -> Select[ClinicalNote]:
    statement = select(ClinicalNote).where(
        ClinicalNote.organization_id == auth.user.organization_id,
        # A restricted record (deleted patient awaiting erasure) is kept, not worked on.
        ~exists().where(Patient.id == ClinicalNote.patient_id, Patient.restricted_at.is_not(None)),
    )
    if auth.user.role != Role.OWNER:
        statement = statement.where(
            or_(ClinicalNote.is_private.is_(False), ClinicalNote.created_by_id == auth.user.id)
        )
    if not include_deleted:
        statement = statement.where(ClinicalNote.deleted_at.is_(None))
    return statement


async def get_readable(
    session: AsyncSession,
    auth: Authenticated,
    note_id: uuid.UUID,
    *,
    include_deleted: bool = False,
    for_update: bool = False,
) -> ClinicalNote:
    """The note if the caller may read it; 404 otherwise (a private note is not admitted to)."""
    statement = readable(auth, include_deleted=include_deleted).where(ClinicalNote.id == note_id)
    if for_update:
        statement = statement.with_for_update()
    note = await session.scalar(statement)
    if note is None:
        raise NotFound("No such note.")
    return note
