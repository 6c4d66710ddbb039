"""Reading and acknowledging one risk alert: the API and the workspace do it the same way."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kura.audit.service import AuditAction, record
from kura.auth.sessions import Authenticated
from kura.db.base import utcnow
from kura.errors import NotFound
from kura.monitoring.models import RiskAlert


async def get_alert(session: AsyncSession, auth: Authenticated, alert_id: uuid.UUID) -> RiskAlert:
    """An alert of the caller's practice; 404 otherwise."""
    alert = await session.scalar(
        select(RiskAlert).where(
            RiskAlert.id == alert_id, RiskAlert.organization_id == auth.user.organization_id
        )
    )
    if alert is None:
        raise NotFound("No such alert.")
    return alert


async def acknowledge(
    session: AsyncSession, auth: Authenticated, alert: RiskAlert, *, ip: str | None
) -> None:
    """Record who saw the alert and when (once; audited). The alert and its risk stay."""
    if alert.acknowledged_at is not None:
        return
    alert.acknowledged_at = utcnow()
    alert.acknowledged_by_id = auth.user.id
    await session.flush()
    await record(
        session,
        AuditAction.RISK_ALERT_ACKNOWLEDGED,
        organization_id=auth.user.organization_id,
        actor_id=auth.user.id,
        target_type="risk_alert",
        target_id=alert.id,
        ip=ip,
    )
