"""Patient records: create, search, update — each audited (deletion: kura.patients.retention)."""

from __future__ import annotations

import uuid

from sqlalchemy import ColumnElement, Select, String, func, literal, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from kura.audit.service import AuditAction, record
from kura.auth.service import require_verified_email
from kura.auth.sessions import Authenticated, utcnow
from kura.errors import BadRequest, Conflict, Forbidden
from kura.patients.models import Patient, fold
from kura.patients.repository import readable
from kura.patients.schemas import PatientCreate, PatientUpdate
from kura.users.models import User


def _like(term: ColumnElement[str]) -> ColumnElement[str]:
    """`%term%` for LIKE … ESCAPE '\\': the term's own \\, % and _ match literally.

    Escaped in SQL, after folding: unaccent turns the full-width percent sign (U+FF05) into
    "%", and likewise for "_" and "\\", so text escaped before folding could still come out
    as a wildcard. All immutable, so the planner folds the pattern to a constant and picks
    the trigram indexes.
    """
    escaped = term
    for char in ("\\", "%", "_"):
        escaped = func.replace(escaped, char, "\\" + char, type_=String)
    return literal("%", String) + escaped + literal("%", String)


def search_statement(
    auth: Authenticated, q: str | None, *, restricted: bool = False
) -> Select[Patient]:
    """The caller's patients whose name, email or phone contains `q`, ignoring case and accents
    ("nunez" finds "Núñez"): each side folded by kura_fold(), index-backed (see the model)."""
    statement = readable(auth, restricted=restricted)
    if q:
        pattern = _like(fold(q.strip()))
        statement = statement.where(
            or_(
                fold(Patient.full_name).like(pattern, escape="\\"),
                fold(Patient.email).like(pattern, escape="\\"),
                Patient.phone.like(pattern, escape="\\"),  # digits and "+": nothing to fold
            )
        )
    return statement


async def search_patients(
    session: AsyncSession,
    auth: Authenticated,
    *,
    q: str | None,
    page: int,
    page_size: int,
    restricted: bool = False,
) -> tuple[list[Patient], int]:
    statement = search_statement(auth, q, restricted=restricted)
    total = await session.scalar(select(func.count()).select_from(statement.subquery()))
    rows = await session.scalars(
        statement.order_by(Patient.full_name, Patient.id)
        .limit(page_size)
        .offset((page - 1) * page_size)
    )
    return list(rows), int(total or 0)


async def _flush_unique_phone(session: AsyncSession) -> None:
    try:
        async with session.begin_nested():
            await session.flush()
    except IntegrityError:
        raise Conflict("Another patient of this practice already has this phone number.") from None


async def _check_therapist(
    session: AsyncSession, auth: Authenticated, therapist_id: uuid.UUID | None
) -> None:
    """The assigned therapist must be an active OWNER/THERAPIST of the same practice."""
    if therapist_id is None:
        return
    therapist = await session.scalar(
        select(User).where(
            User.id == therapist_id,
            User.organization_id == auth.user.organization_id,
            User.is_active.is_(True),
        )
    )
    if therapist is None or not therapist.is_clinical:
        raise BadRequest(
            "assigned_therapist_id must be an active owner or therapist of your practice."
        )


def _check_consent_change(auth: Authenticated) -> None:
    """Monitoring consent is a clinical decision: owners and therapists, not assistants."""
    if not auth.user.is_clinical:
        raise Forbidden("Only an owner or therapist can change monitoring consent.")


async def create_patient(
    session: AsyncSession, auth: Authenticated, data: PatientCreate, *, ip: str | None
) -> Patient:
    require_verified_email(auth.user)
    if data.monitoring_consent:
        _check_consent_change(auth)
    await _check_therapist(session, auth, data.assigned_therapist_id)
    patient = Patient(
        organization_id=auth.user.organization_id,
        created_by_id=auth.user.id,
        monitoring_consent_at=utcnow() if data.monitoring_consent else None,
        **data.model_dump(),
    )
    session.add(patient)
    await _flush_unique_phone(session)
    await _audit(session, auth, AuditAction.PATIENT_CREATED, patient, ip=ip)
    return patient


async def update_patient(
    session: AsyncSession,
    auth: Authenticated,
    patient: Patient,
    data: PatientUpdate,
    *,
    ip: str | None,
) -> Patient:
    changes = data.model_dump(exclude_unset=True)
    if "assigned_therapist_id" in changes:
        await _check_therapist(session, auth, changes["assigned_therapist_id"])
    for required in ("full_name", "language", "monitoring_consent"):
        if changes.get(required, "") is None:
            changes.pop(required)
    if (
        "monitoring_consent" in changes
        and changes["monitoring_consent"] != patient.monitoring_consent
    ):
        _check_consent_change(auth)
        patient.monitoring_consent_at = utcnow() if changes["monitoring_consent"] else None
    for field, value in changes.items():
        setattr(patient, field, value)
    await _flush_unique_phone(session)
    await _audit(session, auth, AuditAction.PATIENT_UPDATED, patient, ip=ip, fields=sorted(changes))
    await session.refresh(patient)
    return patient


async def audit_listing(
    session: AsyncSession,
    auth: Authenticated,
    patients: list[Patient],
    *,
    searched: bool,
    page: int,
    ip: str | None,
) -> None:
    """One row per list or search request: which records were shown, never the query text."""
    await record(
        session,
        AuditAction.PATIENT_LISTED,
        organization_id=auth.user.organization_id,
        actor_id=auth.user.id,
        target_type="patient",
        ip=ip,
        details={"ids": [str(p.id) for p in patients], "searched": searched, "page": page},
    )


async def audit_view(
    session: AsyncSession, auth: Authenticated, patient: Patient, *, ip: str | None
) -> None:
    await _audit(session, auth, AuditAction.PATIENT_VIEWED, patient, ip=ip)


async def _audit(
    session: AsyncSession,
    auth: Authenticated,
    action: AuditAction,
    patient: Patient,
    *,
    ip: str | None,
    fields: list[str] | None = None,
) -> None:
    await record(
        session,
        action,
        organization_id=auth.user.organization_id,
        actor_id=auth.user.id,
        target_type="patient",
        target_id=patient.id,
        ip=ip,
        details={"fields": fields} if fields else None,
    )
