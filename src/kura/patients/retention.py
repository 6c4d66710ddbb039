"""Deleting a patient restricts the record; the daily purge erases it when its retention ends.

Ley 41/2002 (art. 17) keeps clinical records at least five years after discharge, so a
"deleted" patient leaves lists, search and monitoring at once, but the record stays — unreadable
through every route but the owner's — until `retain_until` (discharge + the practice's
`record_retention_years`). Only what is not clinical is purged at once: the WhatsApp message
bodies and daily analyses (as on a monitoring withdrawal).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from kura.audit.service import AuditAction, record
from kura.auth.sessions import Authenticated, utcnow
from kura.bookings.models import Booking, BookingStatus
from kura.clinical.models import ClinicalNote
from kura.errors import BadRequest, Conflict, Forbidden
from kura.monitoring.enrollment import withdraw
from kura.orgs.models import Organization
from kura.patients.models import Patient
from kura.users.models import Role

ACTIVE_MONITORING = ("pending", "active")


def require_owner(auth: Authenticated, doing: str) -> None:
    if auth.user.role != Role.OWNER:
        raise Forbidden(f"Only the practice owner can {doing}.")


async def last_clinical_activity(session: AsyncSession, patient: Patient) -> date | None:
    """The day of the patient's latest note or past booking: discharge cannot precede it."""
    latest_note = await session.scalar(
        select(func.max(ClinicalNote.created_at)).where(ClinicalNote.patient_id == patient.id)
    )
    latest_booking = await session.scalar(
        select(func.max(Booking.starts_at)).where(
            Booking.patient_id == patient.id, Booking.starts_at <= utcnow()
        )
    )
    moments = [m for m in (latest_note, latest_booking) if m is not None]
    return max(moments).date() if moments else None


def retention_end(discharged_on: date, years: int) -> date:
    """The same day `years` later; from 29 February, 1 March (never a day short)."""
    try:
        return discharged_on.replace(year=discharged_on.year + years)
    except ValueError:
        return discharged_on.replace(year=discharged_on.year + years, day=28) + timedelta(days=1)


async def restrict_patient(
    session: AsyncSession,
    auth: Authenticated,
    patient: Patient,
    *,
    discharged_on: date | None,
    ip: str | None,
) -> Patient:
    require_owner(auth, "delete a patient")
    if patient.restricted_at is not None:
        raise Conflict("This patient is already deleted and awaiting erasure.")
    today = utcnow().date()
    discharged_on = discharged_on or today
    if discharged_on > today:
        raise BadRequest("discharged_on cannot be in the future.")
    latest = await last_clinical_activity(session, patient)
    if latest is not None and discharged_on < latest:
        raise BadRequest(f"discharged_on cannot be before the last note or session ({latest}).")
    upcoming = await session.scalar(
        select(func.count()).where(
            Booking.patient_id == patient.id,
            Booking.starts_at > utcnow(),
            Booking.status.in_((BookingStatus.PENDING, BookingStatus.CONFIRMED)),
        )
    )
    if upcoming:
        raise Conflict(f"Cancel this patient's {upcoming} upcoming booking(s) first.")
    organization = await session.get_one(Organization, patient.organization_id)
    purged = 0
    if patient.monitoring_status in ACTIVE_MONITORING or patient.monitoring_consent:
        purged = await withdraw(session, patient, actor_id=auth.user.id, by="patient deleted")
    patient.restricted_at = utcnow()
    patient.restricted_by_id = auth.user.id
    patient.discharged_on = discharged_on
    patient.retain_until = retention_end(discharged_on, organization.record_retention_years)
    await session.flush()
    await record(
        session,
        AuditAction.PATIENT_RESTRICTED,
        organization_id=patient.organization_id,
        actor_id=auth.user.id,
        target_type="patient",
        target_id=patient.id,
        ip=ip,
        details={
            "discharged_on": discharged_on.isoformat(),
            "retain_until": patient.retain_until.isoformat(),
            "messages_purged": purged,
        },
    )
    return patient


async def lift_restriction(
    session: AsyncSession, auth: Authenticated, patient: Patient, *, ip: str | None
) -> Patient:
    """Undo a deletion before the erasure (the patient came back). Monitoring stays off."""
    require_owner(auth, "undelete a patient")
    if patient.restricted_at is None:
        raise Conflict("This patient is not deleted.")
    patient.restricted_at = patient.restricted_by_id = None
    patient.discharged_on = patient.retain_until = None
    await session.flush()
    await record(
        session,
        AuditAction.PATIENT_UNRESTRICTED,
        organization_id=patient.organization_id,
        actor_id=auth.user.id,
        target_type="patient",
        target_id=patient.id,
        ip=ip,
    )
    await session.refresh(patient)
    return patient


def is_due(patient: Patient, moment: datetime) -> bool:
    return patient.retain_until is not None and patient.retain_until < moment.date()
