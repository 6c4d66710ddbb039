"""The daily purge: records whose retention ended, drafts deleted more than 30 days ago, and
practices whose closure's grace period is over. It audits counts, never content."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from kura.audit.service import AuditAction, record
from kura.bookings.models import Booking
from kura.clinical.models import ClinicalNote
from kura.clinical.service import RESTORE_WINDOW
from kura.exports.models import DataExport
from kura.logging import get_logger
from kura.monitoring.models import DailyConversationAnalysis, MessageLog, RiskAlert
from kura.patients.models import Patient

log = get_logger(__name__)
# What goes with a patient (each by ON DELETE CASCADE): counted for the audit row.
PATIENT_PARTS: dict[str, type] = {
    "notes": ClinicalNote,
    "bookings": Booking,
    "messages": MessageLog,
    "analyses": DailyConversationAnalysis,
    "alerts": RiskAlert,
}
BATCH = 100


async def _counts(session: AsyncSession, patient_ids: Sequence[uuid.UUID]) -> dict[str, int]:
    counts = {}
    for part, model in PATIENT_PARTS.items():
        column = model.patient_id  # type: ignore[attr-defined]  # reason: every part has one
        counts[part] = int(
            await session.scalar(select(func.count()).where(column.in_(patient_ids))) or 0
        )
    return counts


async def erase_due_patients(session: AsyncSession, moment: datetime) -> int:
    """Erase up to BATCH restricted patients whose retain_until has passed; returns how many."""
    due = list(
        await session.scalars(
            select(Patient)
            .where(Patient.restricted_at.is_not(None), Patient.retain_until < moment.date())
            .order_by(Patient.retain_until)
            .limit(BATCH)
            .with_for_update(skip_locked=True)
        )
    )
    if due:  # before the erasure unlinks them (ON DELETE SET NULL)
        # Their exports' files go with the next hourly expiry, not at their own expiry date.
        await session.execute(
            update(DataExport)
            .where(DataExport.patient_id.in_([p.id for p in due]))
            .values(expires_at=moment)
        )
    for patient in due:
        counts = await _counts(session, [patient.id])
        await record(
            session,
            AuditAction.PATIENTS_ERASED,
            organization_id=patient.organization_id,
            actor_id=None,
            target_type="patient",
            target_id=patient.id,
            details={"retain_until": str(patient.retain_until), **counts},
        )
        await session.delete(patient)
    await session.flush()
    return len(due)


async def purge_deleted_drafts(session: AsyncSession, moment: datetime) -> int:
    """Remove drafts deleted more than RESTORE_WINDOW ago; one audit row per practice."""
    cutoff = moment - RESTORE_WINDOW
    rows = (
        await session.execute(
            delete(ClinicalNote)
            .where(ClinicalNote.deleted_at.is_not(None), ClinicalNote.deleted_at < cutoff)
            .returning(ClinicalNote.organization_id)
        )
    ).all()
    per_practice: dict[uuid.UUID, int] = {}
    for (organization_id,) in rows:
        per_practice[organization_id] = per_practice.get(organization_id, 0) + 1
    for organization_id, count in per_practice.items():
        await record(
            session,
            AuditAction.NOTES_PURGED,
            organization_id=organization_id,
            actor_id=None,
            target_type="organization",
            target_id=organization_id,
            details={"drafts": count},
        )
    return len(rows)
