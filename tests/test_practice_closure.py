"""Closing a practice: an export first, 30 days of grace, then the purge erases it all."""

from __future__ import annotations

from datetime import timedelta

from httpx import AsyncClient
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kura.audit.models import AuditEvent
from kura.auth.sessions import utcnow
from kura.config import Settings
from kura.orgs.closure import erase_closed_practices
from kura.orgs.models import Organization
from kura.patients.models import Patient
from kura.users.models import Role, User
from tests.factories import make_owner, make_patient, make_staff


async def test_the_purge_erases_a_practice_only_after_its_grace_period(
    client: AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    closing = await make_owner(session, settings)
    staying = await make_owner(session, settings)
    await make_staff(session, settings, closing.organization, Role.THERAPIST)
    for member in (closing, staying):
        await make_patient(session, member.organization)
    closing.organization.closure_requested_at = utcnow() - timedelta(days=31)
    closing.organization.closes_at = utcnow() + timedelta(hours=1)
    await session.flush()
    assert await erase_closed_practices(session, utcnow()) == []
    assert await session.get(Organization, closing.organization.id) is not None

    closing.organization.closes_at = utcnow() - timedelta(minutes=1)
    await session.flush()
    await erase_closed_practices(session, utcnow())
    gone, other = closing.organization.id, staying.organization.id
    session.expire_all()
    assert await session.scalar(select(Organization).where(Organization.id == gone)) is None
    assert not list(await session.scalars(select(User).where(User.organization_id == gone)))
    assert not list(await session.scalars(select(Patient).where(Patient.organization_id == gone)))
    kept = list(await session.scalars(select(Patient).where(Patient.organization_id == other)))
    assert len(kept) == 1
    event = await session.scalar(
        select(AuditEvent).where(
            AuditEvent.action == "practice.erased", AuditEvent.organization_id == gone
        )
    )
    assert event is not None and event.details["patients"] == 1 and event.details["members"] == 2
