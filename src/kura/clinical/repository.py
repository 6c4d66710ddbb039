"""The one place clinical-note queries are scoped to the caller's organization."""

from __future__ import annotations

import uuid

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from kura.auth.sessions import Authenticated
from kura.clinical.models import ClinicalNote
from kura.errors import NotFound


def readable(auth: Authenticated) -> Select[ClinicalNote]:
    return select(ClinicalNote).where(ClinicalNote.organization_id == auth.user.organization_id)


async def get_readable(
    session: AsyncSession, auth: Authenticated, note_id: uuid.UUID
) -> ClinicalNote:
    note = await session.scalar(readable(auth).where(ClinicalNote.id == note_id))
    if note is None:
        raise NotFound("No such note.")
    return note
