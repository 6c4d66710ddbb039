"""Closing a practice: its records leave with the practice (an export first), then 30 days of
grace during which the owner can change their mind, then the daily purge erases it."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from sqlalchemy import exists, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from kura.audit.service import AuditAction, record
from kura.errors import Conflict
from kura.orgs.models import Organization
from kura.patients.models import Patient

GRACE = timedelta(days=30)
EXPORT_FRESHNESS = timedelta(days=7)


async def patient_records(session: AsyncSession, organization_id: uuid.UUID) -> int:
    """Patients (deleted-awaiting-erasure ones included) with clinical content: a note, a
    booking or a risk alert. Contact details and monitoring messages alone are not a record."""
    from kura.bookings.models import Booking
    from kura.clinical.models import ClinicalNote
    from kura.monitoring.models import RiskAlert

    with_content = or_(
        *(
            exists().where(model.patient_id == Patient.id)
            for model in (ClinicalNote, Booking, RiskAlert)
        )
    )
    return int(
        await session.scalar(
            select(func.count()).where(Patient.organization_id == organization_id, with_content)
        )
        or 0
    )


async def ensure_account_deletion_keeps_records(
    session: AsyncSession, organization_id: uuid.UUID
) -> None:
    """The last member of a practice cannot take its clinical records with their account."""
    held = await patient_records(session, organization_id)
    if held:
        raise Conflict(
            f"Your practice still holds {held} patient record(s), which deleting your account "
            "would erase. Export the practice and close it instead (POST "
            "/api/v1/practice/closure): its records are kept 30 days more."
        )


def closes_at(requested: datetime) -> datetime:
    return requested + GRACE


async def erase_closed_practices(
    session: AsyncSession, moment: datetime
) -> tuple[list[str], list[str]]:
    """Erase practices whose closure's grace period is over (everything goes with them, by
    ON DELETE CASCADE); returns the names of their briefing audio and export files, to delete
    from their stores after the commit."""
    from kura.briefings.service import audio_of_users
    from kura.exports.models import DataExport
    from kura.users.models import User

    due = list(
        await session.scalars(
            select(Organization)
            .where(Organization.closes_at.is_not(None), Organization.closes_at < moment)
            .with_for_update(skip_locked=True)
        )
    )
    blobs: list[str] = []
    exports: list[str] = []
    for organization in due:
        members = list(
            await session.scalars(select(User.id).where(User.organization_id == organization.id))
        )
        blobs += await audio_of_users(session, members)
        exports += [
            name
            for name in await session.scalars(
                select(DataExport.blob_name).where(DataExport.organization_id == organization.id)
            )
            if name
        ]
        await record(
            session,
            AuditAction.PRACTICE_ERASED,
            organization_id=organization.id,
            actor_id=None,
            target_type="organization",
            target_id=organization.id,
            details={
                "patients": await session.scalar(
                    select(func.count()).where(Patient.organization_id == organization.id)
                ),
                "members": len(members),
                "closure_requested_at": str(organization.closure_requested_at),
            },
        )
        await session.delete(organization)
    await session.flush()
    return blobs, exports


async def recent_practice_export(
    session: AsyncSession, organization_id: uuid.UUID, moment: datetime
) -> bool:
    """A READY practice export of the last EXPORT_FRESHNESS: the records left with the owner."""
    from kura.exports.models import DataExport, ExportKind, ExportStatus

    found = await session.scalar(
        select(DataExport.id)
        .where(
            DataExport.organization_id == organization_id,
            DataExport.kind == ExportKind.PRACTICE,
            DataExport.status == ExportStatus.READY,
            DataExport.completed_at >= moment - EXPORT_FRESHNESS,
        )
        .limit(1)
    )
    return found is not None


async def request_closure(
    session: AsyncSession, organization: Organization, moment: datetime
) -> Organization:
    if organization.closes_at is not None:
        raise Conflict(f"This practice already closes on {organization.closes_at:%Y-%m-%d}.")
    if not await recent_practice_export(session, organization.id, moment):
        raise Conflict(
            "Export the practice first (POST /api/v1/practice/export, then download it): "
            "closing erases every record 30 days later. An export of the last 7 days counts."
        )
    organization.closure_requested_at = moment
    organization.closes_at = closes_at(moment)
    await session.flush()
    return organization


async def cancel_closure(session: AsyncSession, organization: Organization) -> Organization:
    if organization.closes_at is None:
        raise Conflict("This practice is not closing.")
    organization.closure_requested_at = organization.closes_at = None
    await session.flush()
    return organization
