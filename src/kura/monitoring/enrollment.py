"""Verified enrollment: monitoring starts only when the patient sends a single-use code from
the phone on record (double opt-in), and stops when they send BAJA/STOP or staff revoke it.

A phone is actively bound to at most one patient per receiving number (a partial unique
index), so no record another practice creates can divert, read or silence the messages.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import quote

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from kura.audit.service import AuditAction, record
from kura.auth import throttle
from kura.db.base import utcnow
from kura.errors import Conflict
from kura.logging import get_logger
from kura.monitoring.models import DailyConversationAnalysis, MessageLog, MonitoringEnrollment
from kura.orgs.models import Organization
from kura.patients.models import Patient

log = get_logger(__name__)
CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I/L: read aloud, typed by hand
CODE_PATTERN = re.compile(r"\bKURA-([A-Z2-9]{4})-?([A-Z2-9]{4})\b", re.IGNORECASE)
CODE_TTL = timedelta(days=7)
# Only words that mean nothing else ("cancelar" is also a session being cancelled).
WITHDRAW_WORDS = frozenset({"BAJA", "STOP", "BAIXA", "UNSUBSCRIBE"})
# 40 bits per code, and 5 wrong codes from one phone lock it for an hour: guessing is hopeless.
WRONG_CODES = throttle.Limit("enroll-phone", 5, timedelta(hours=1), timedelta(hours=1))
# Every code a practice creates counts (there is no success that resets it).
CODES_PER_PRACTICE = throttle.Limit("enroll-org", 60, timedelta(hours=1), timedelta(hours=1))


class Status:
    NONE = "none"
    PENDING = "pending"
    ACTIVE = "active"
    WITHDRAWN = "withdrawn"
    MOVED = "moved"  # the same phone enrolled with another patient


@dataclass(frozen=True)
class NewEnrollment:
    code: str
    expires_at: datetime
    whatsapp_url: str | None


def new_code() -> str:
    pick = [secrets.choice(CODE_ALPHABET) for _ in range(8)]
    return f"KURA-{''.join(pick[:4])}-{''.join(pick[4:])}"


def _hash(code: str) -> str:
    groups = CODE_PATTERN.search(code)
    canonical = f"{groups.group(1)}{groups.group(2)}".upper() if groups else code.upper()
    return hashlib.sha256(canonical.encode()).hexdigest()


def find_code(body: str) -> str | None:
    match = CODE_PATTERN.search(body or "")
    return match.group(0) if match else None


def is_withdrawal(body: str) -> bool:
    return (body or "").strip().strip(".!").upper() in WITHDRAW_WORDS


def _digits(number: str) -> str:
    return "".join(c for c in number if c.isdigit())


async def create_enrollment(
    session: AsyncSession,
    *,
    patient: Patient,
    organization: Organization,
    created_by_id: uuid.UUID,
    shared_number: str | None,
) -> NewEnrollment:
    """A new code for the patient (earlier unused ones stop working)."""
    if not patient.phone:
        raise Conflict("The patient needs a phone number on record before enrolling.")
    now = utcnow()
    await throttle.check(session, CODES_PER_PRACTICE, str(organization.id), now=now)
    await throttle.record_failure(session, CODES_PER_PRACTICE, str(organization.id), now=now)
    await session.execute(
        delete(MonitoringEnrollment).where(
            MonitoringEnrollment.patient_id == patient.id, MonitoringEnrollment.used_at.is_(None)
        )
    )
    code = new_code()
    expires_at = now + CODE_TTL
    session.add(
        MonitoringEnrollment(
            organization_id=organization.id,
            patient_id=patient.id,
            code_hash=_hash(code),
            expires_at=expires_at,
            created_by_id=created_by_id,
        )
    )
    if patient.monitoring_status != Status.ACTIVE:
        patient.monitoring_status = Status.PENDING
    await session.flush()
    number = organization.whatsapp_number or shared_number
    url = f"https://wa.me/{_digits(number)}?text={quote(code)}" if number else None
    return NewEnrollment(code, expires_at, url)


def _reachable(
    organization: Organization,
    to_number: str,
    shared_number: str | None,
    *,
    allow_any_number: bool = False,
) -> bool:
    """The practice receives on `to_number`: its own number, or the platform's shared one
    (any number in development, where no shared number is configured)."""
    if not shared_number:
        return allow_any_number
    if organization.whatsapp_number and _digits(organization.whatsapp_number) == _digits(to_number):
        return True
    return bool(shared_number) and _digits(shared_number or "") == _digits(to_number)


async def bind_from_code(
    session: AsyncSession,
    *,
    code: str,
    from_number: str,
    to_number: str,
    sid: str,
    shared_number: str | None,
    allow_any_number: bool = False,
) -> Patient | None:
    """Bind the sender's phone to the code's patient; None (and a counted failure) when the
    code is unknown, used, expired, for another number or sent from another phone."""
    now = utcnow()
    if await throttle.seconds_locked(session, WRONG_CODES, from_number, now=now):
        log.warning("whatsapp.enrollment_locked")
        return None
    row = (
        await session.execute(
            select(MonitoringEnrollment, Patient, Organization)
            .join(Patient, Patient.id == MonitoringEnrollment.patient_id)
            .join(Organization, Organization.id == MonitoringEnrollment.organization_id)
            .where(
                MonitoringEnrollment.code_hash == _hash(code),
                MonitoringEnrollment.used_at.is_(None),
                MonitoringEnrollment.expires_at > now,
            )
            .with_for_update(of=MonitoringEnrollment)
        )
    ).one_or_none()
    if row is None or not _reachable(
        row[2], to_number, shared_number, allow_any_number=allow_any_number
    ):
        await throttle.record_failure(session, WRONG_CODES, from_number, now=now)
        log.warning("whatsapp.enrollment_refused", reason="code")
        return None
    enrollment, patient, organization = row
    if patient.phone != from_number:
        await throttle.record_failure(session, WRONG_CODES, from_number, now=now)
        log.warning("whatsapp.enrollment_refused", reason="phone", patient_id=str(patient.id))
        return None
    await _move_previous_binding(session, patient, from_number, to_number)
    enrollment.used_at = now
    patient.monitoring_status = Status.ACTIVE
    patient.monitoring_phone = from_number
    patient.monitoring_number = to_number
    patient.monitoring_enrolled_at = now
    patient.monitoring_enrollment_sid = sid
    patient.monitoring_consent = True
    patient.monitoring_consent_at = now
    await session.flush()
    await throttle.clear(session, WRONG_CODES, from_number)
    await record(
        session,
        AuditAction.MONITORING_ENROLLED,
        organization_id=organization.id,
        actor_id=None,
        target_type="patient",
        target_id=patient.id,
        details={"message_sid": sid},
    )
    return patient


async def _move_previous_binding(
    session: AsyncSession, patient: Patient, phone: str, to_number: str
) -> None:
    """The phone leaves whichever patient it was bound to; that practice is told (ids only)."""
    previous = await session.scalar(
        select(Patient).where(
            Patient.monitoring_status == Status.ACTIVE,
            Patient.monitoring_phone == phone,
            Patient.monitoring_number == to_number,
            Patient.id != patient.id,
        )
    )
    if previous is None:
        return
    previous.monitoring_status = Status.MOVED
    await session.flush()
    await record(
        session,
        AuditAction.MONITORING_BINDING_MOVED,
        organization_id=previous.organization_id,
        actor_id=None,
        target_type="patient",
        target_id=previous.id,
        details={"reason": "the phone enrolled elsewhere"},
    )
    log.warning("whatsapp.binding_moved", previous_patient_id=str(previous.id))


async def withdraw(
    session: AsyncSession, patient: Patient, *, actor_id: uuid.UUID | None, by: str
) -> int:
    """Stop monitoring and purge what was kept of the messages: bodies, transcripts and the
    daily analyses (alerts stay: they hold no text). Returns the messages purged."""
    patient.monitoring_status = Status.WITHDRAWN
    patient.monitoring_consent = False
    patient.monitoring_consent_at = None
    await session.execute(
        delete(MonitoringEnrollment).where(MonitoringEnrollment.patient_id == patient.id)
    )
    # A voice note still waiting is never transcribed; a safety message still waiting to be
    # sent is kept until it is (the patient must get it).
    await session.execute(
        update(MessageLog)
        .where(MessageLog.patient_id == patient.id, MessageLog.transcription_status == "pending")
        .values(transcription_status="withdrawn")
    )
    purged = await session.execute(
        update(MessageLog)
        .where(
            MessageLog.patient_id == patient.id,
            MessageLog.body.is_not(None) | MessageLog.transcript.is_not(None),
            MessageLog.delivery_status.is_distinct_from("pending"),
        )
        .values(body=None, transcript=None)
    )
    await session.execute(
        delete(DailyConversationAnalysis).where(DailyConversationAnalysis.patient_id == patient.id)
    )
    await session.flush()
    count = int(getattr(purged, "rowcount", 0) or 0)
    await record(
        session,
        AuditAction.MONITORING_WITHDRAWN,
        organization_id=patient.organization_id,
        actor_id=actor_id,
        target_type="patient",
        target_id=patient.id,
        details={"by": by, "messages_purged": count},
    )
    return count
