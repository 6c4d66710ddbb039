"""Booking changes are audited the same way from the API and the workspace."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from kura.audit.service import AuditAction, record
from kura.auth.sessions import Authenticated
from kura.bookings.models import Booking


async def audit_booking(
    session: AsyncSession,
    auth: Authenticated,
    action: AuditAction,
    booking: Booking,
    *,
    ip: str | None,
    **details: object,
) -> None:
    await record(
        session,
        action,
        organization_id=auth.user.organization_id,
        actor_id=auth.user.id,
        target_type="booking",
        target_id=booking.id,
        ip=ip,
        details={"patient_id": str(booking.patient_id), "status": booking.status.value, **details},
    )
