"""A practice's own WhatsApp texts (acknowledgement, crisis resources), added to the emergency
numbers, never in their place; the API and the workspace change them the same way."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from kura.audit.service import AuditAction, record
from kura.auth.sessions import Authenticated
from kura.monitoring.schemas import MonitoringSettingsUpdate
from kura.orgs.models import Organization


async def update_texts(
    session: AsyncSession, auth: Authenticated, body: MonitoringSettingsUpdate, *, ip: str | None
) -> Organization:
    organization = await session.get_one(Organization, auth.organization.id)
    for field, value in body.model_dump(exclude_unset=True).items():
        setattr(organization, field, value or None)
    await session.flush()
    await record(
        session,
        AuditAction.MONITORING_SETTINGS_UPDATED,
        organization_id=auth.user.organization_id,
        actor_id=auth.user.id,
        target_type="organization",
        target_id=organization.id,
        ip=ip,
    )
    return organization
