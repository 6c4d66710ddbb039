"""The one place patient queries are scoped to the caller's organization."""

from __future__ import annotations

import uuid

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from kura.auth.sessions import Authenticated
from kura.errors import NotFound
from kura.patients.models import Patient


def readable(auth: Authenticated, *, restricted: bool = False) -> Select[Patient]:
    """The caller's practice's patients: the active ones, or only the restricted (deleted,
    awaiting erasure) when `restricted`."""
    state = Patient.restricted_at.is_not(None) if restricted else Patient.restricted_at.is_(None)
    return select(Patient).where(Patient.organization_id == auth.user.organization_id, state)


async def get_readable(
    session: AsyncSession,
    auth: Authenticated,
    patient_id: uuid.UUID,
    *,
    include_restricted: bool = False,
) -> Patient:
    """The patient if it belongs to the caller's organization; 404 otherwise (never 403).
    A restricted record is found only where `include_restricted` says so (owner's routes)."""
    statement = select(Patient).where(
        Patient.organization_id == auth.user.organization_id, Patient.id == patient_id
    )
    if not include_restricted:
        statement = statement.where(Patient.restricted_at.is_(None))
    patient = await session.scalar(statement)
    if patient is None:
        raise NotFound("No such patient.")
    return patient
