"""The one place patient queries are scoped to the caller's organization."""

from __future__ import annotations

import uuid

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from kura.auth.sessions import Authenticated
from kura.errors import NotFound
from kura.patients.models import Patient


def readable(auth: Authenticated) -> Select[Patient]:
    return select(Patient).where(Patient.organization_id == auth.user.organization_id)


async def get_readable(
    session: AsyncSession, auth: Authenticated, patient_id: uuid.UUID
) -> Patient:
    """The patient if it belongs to the caller's organization; 404 otherwise (never 403)."""
    patient = await session.scalar(readable(auth).where(Patient.id == patient_id))
    if patient is None:
        raise NotFound("No such patient.")
    return patient
