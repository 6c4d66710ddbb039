"""Handling one inbound WhatsApp message: route, store, screen, alert, reply, queue analysis."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import bindparam, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from kura.aletheia.screen import CONTEXT_MESSAGES, Risk, ScreenResult, screen_message
from kura.config import Settings, secret_value
from kura.db.base import utcnow
from kura.logging import get_logger
from kura.monitoring import replies
from kura.monitoring.enrollment import Status, find_code, is_withdrawal
from kura.monitoring.models import Direction, MessageLog, RiskAlert, Routing
from kura.orgs.models import Organization
from kura.patients.models import Patient

log = get_logger(__name__)


@dataclass(frozen=True)
class Inbound:
    sid: str
    from_number: str  # E.164
    to_number: str  # E.164
    body: str
    media_content_type: str | None = None
    media_url: str | None = None


@dataclass(frozen=True)
class Outcome:
    reply: str | None
    message_id: uuid.UUID | None = None
    alert_id: uuid.UUID | None = None
    screen: ScreenResult | None = None


async def previous_reply(session: AsyncSession, sid: str) -> str | None:
    """The answer already given to this MessageSid (a redelivery answers the same way)."""
    return (await _previous(session, sid))[1]


# Statements on the webhook's path are built once with bind parameters: building them per
# message cost more than the database round trips (measured in bench/monitoring.py).
_REPLY = aliased(MessageLog)
_PREVIOUS = (
    select(MessageLog.id, _REPLY.body)
    .outerjoin(
        _REPLY,
        (_REPLY.in_reply_to_id == MessageLog.id) & (_REPLY.direction == Direction.OUTBOUND),
    )
    .where(MessageLog.provider_sid == bindparam("sid"))
    .limit(1)
)
_OWN_NUMBER = (
    select(Organization.id)
    .where(Organization.whatsapp_number == bindparam("to_number"))
    .scalar_subquery()
)
# Routing is proof, not data entry: only the patient whose enrollment this phone confirmed.
_BOUND = (
    select(Patient, Organization)
    .join(Organization, Organization.id == Patient.organization_id)
    .where(
        Patient.monitoring_status == Status.ACTIVE,
        Patient.monitoring_phone == bindparam("from_number"),
        Patient.monitoring_number == bindparam("to_number"),
    )
)
_INSERT_ONCE = (
    insert(MessageLog)
    .on_conflict_do_nothing(index_elements=["provider_sid"])
    .returning(MessageLog.id)
)
_INSERT_REPLY = insert(MessageLog)
_RECENT_REPLY = (
    select(MessageLog.id)
    .where(
        MessageLog.direction == Direction.OUTBOUND,
        MessageLog.to_number == bindparam("phone"),
        MessageLog.created_at >= bindparam("since"),
    )
    .limit(1)
)
_MESSAGE_COLUMNS = {c.key for c in MessageLog.__table__.columns}
# The patient's earlier messages the screen reads with a new one (a plan told in pieces).
CONTEXT_WINDOW = timedelta(hours=6)
_CONTEXT = (
    select(MessageLog.id, MessageLog.body, MessageLog.screen_risk)
    .where(
        MessageLog.patient_id == bindparam("patient_id"),
        MessageLog.direction == Direction.INBOUND,
        MessageLog.routing == Routing.ROUTED,
        MessageLog.created_at >= bindparam("since"),
        MessageLog.body.is_not(None),
    )
    .order_by(MessageLog.created_at.desc())
    .limit(CONTEXT_MESSAGES + 1)
)


async def _previous(session: AsyncSession, sid: str) -> tuple[bool, str | None]:
    """(already stored?, reply given) for a MessageSid, in one round trip."""
    row = (await session.execute(_PREVIOUS, {"sid": sid})).first()
    return (row is not None, row[1] if row else None)


async def is_our_number(session: AsyncSession, settings: Settings, to_number: str) -> bool:
    """The platform's shared number or a practice's own (in development without a shared
    number configured, any number)."""
    shared = settings.twilio_whatsapp_number
    if not shared and not settings.is_production:
        return True
    if shared and _digits(shared) == _digits(to_number):
        return True
    return await session.scalar(select(_OWN_NUMBER), {"to_number": to_number}) is not None


def _digits(number: str) -> str:
    return "".join(c for c in number if c.isdigit())


async def handle_inbound(session: AsyncSession, settings: Settings, inbound: Inbound) -> Outcome:
    from kura.monitoring import unrouted

    stored, previous = await _previous(session, inbound.sid)
    if stored:
        return Outcome(reply=previous)
    if not await is_our_number(session, settings, inbound.to_number):
        return await unrouted.answer_unknown_sender(inbound)
    code = find_code(inbound.body)
    if code is not None:
        return await unrouted.answer_enrollment(session, settings, inbound, code)
    bound = await bound_patient(session, inbound)
    if bound is None:
        return await unrouted.answer_not_enrolled(inbound)
    patient, organization = bound
    if is_withdrawal(inbound.body):
        return await unrouted.answer_withdrawal(session, inbound, patient)
    return await monitored(session, settings, inbound, patient, organization)


async def bound_patient(
    session: AsyncSession, inbound: Inbound
) -> tuple[Patient, Organization] | None:
    """The patient whose enrollment this phone confirmed on this number, if any."""
    row = (
        await session.execute(
            _BOUND, {"from_number": inbound.from_number, "to_number": inbound.to_number}
        )
    ).first()
    return (row[0], row[1]) if row else None


def _row(**values: object) -> dict[str, object]:
    """A complete parameter set for the prebuilt INSERTs (unset columns get their defaults)."""
    row: dict[str, object] = dict.fromkeys(_MESSAGE_COLUMNS)
    row.update(
        id=uuid.uuid4(), created_at=utcnow(), screen_level=0, screen_risk="LOW", screen_flags=[]
    )
    row.update(values)
    return row


async def store_once(session: AsyncSession, **values: object) -> uuid.UUID | None:
    """Insert once per MessageSid; None when a concurrent delivery got there first."""
    stored: uuid.UUID | None = await session.scalar(_INSERT_ONCE, _row(**values))
    return stored


async def store_reply(
    session: AsyncSession, inbound: Inbound, inbound_id: uuid.UUID, text: str, **values: object
) -> None:
    await session.execute(
        _INSERT_REPLY,
        _row(
            direction=Direction.OUTBOUND,
            in_reply_to_id=inbound_id,
            from_number=inbound.to_number,
            to_number=inbound.from_number,
            body=text,
            **values,
        ),
    )


async def recently_answered(session: AsyncSession, settings: Settings, phone: str) -> bool:
    since = utcnow() - timedelta(hours=settings.monitoring_ack_window_hours)
    found = await session.scalar(_RECENT_REPLY, {"phone": phone, "since": since})
    return found is not None


async def monitored(
    session: AsyncSession,
    settings: Settings,
    inbound: Inbound,
    patient: Patient,
    organization: Organization,
    *,
    enrolled: bool = False,
) -> Outcome:
    from kura.monitoring.tasks import queue_analysis, queue_transcription

    screen = await screen_with_context(session, patient.id, inbound.body)
    voice_note = bool(inbound.media_url and (inbound.media_content_type or "").startswith("audio/"))
    transcription = None
    if voice_note:
        transcription = "pending" if secret_value(settings.openai_api_key) else "unavailable"
    stored = await store_once(
        session,
        organization_id=organization.id,
        patient_id=patient.id,
        direction=Direction.INBOUND,
        routing=Routing.ROUTED,
        provider_sid=inbound.sid,
        from_number=inbound.from_number,
        to_number=inbound.to_number,
        body=inbound.body,
        media_content_type=inbound.media_content_type,
        media_url=inbound.media_url,
        screen_level=screen.level,
        screen_risk=screen.risk.name,
        screen_flags=list(screen.flags),
        transcription_status=transcription,
    )
    if stored is None:
        return Outcome(reply=await previous_reply(session, inbound.sid))
    if transcription == "pending":
        await queue_transcription(session, stored)
    alert_id = None
    values = {
        "routing": Routing.ROUTED,
        "organization_id": organization.id,
        "patient_id": patient.id,
    }
    if screen.needs_alert:
        alert_id = await raise_screen_alert(
            session, organization_id=organization.id, patient_id=patient.id, message_id=stored,
            screen=screen,
        )  # fmt: skip
        text: str | None = replies.safety_reply(
            patient.language,
            country=replies.country_of(inbound.from_number),
            risk=screen.risk,
            resources=organization.crisis_resources,
        )
    elif enrolled:
        text = replies.enrolled(
            patient.language,
            practice=organization.name,
            country=replies.country_of(inbound.from_number),
        )
    elif not voice_note and await recently_answered(session, settings, inbound.from_number):
        text = None  # a voice note is not screened yet: it always gets the emergency numbers
    else:
        text = replies.acknowledgement(
            patient.language,
            country=replies.country_of(inbound.from_number),
            custom=organization.monitoring_ack_message,
            resources=organization.crisis_resources,
        )
    if text is not None:
        await store_reply(session, inbound, stored, text, **values)
    day = local_day(utcnow(), organization.timezone)
    await queue_analysis(session, settings, patient.id, day.isoformat())
    return Outcome(reply=text, message_id=stored, alert_id=alert_id, screen=screen)


async def raise_screen_alert(
    session: AsyncSession,
    *,
    organization_id: uuid.UUID,
    patient_id: uuid.UUID,
    screen: ScreenResult,
    message_id: uuid.UUID | None = None,
    note_id: uuid.UUID | None = None,
) -> uuid.UUID:
    """A risk alert for a screened message or session note, its email queued in the same
    transaction."""
    from kura.monitoring.tasks import queue_alert_notification

    alert = RiskAlert(
        organization_id=organization_id,
        patient_id=patient_id,
        message_id=message_id,
        note_id=note_id,
        source="screen" if note_id is None else "note",
        level=screen.level,
        risk=screen.risk.name,
        flags=list(screen.flags),
    )
    session.add(alert)
    await session.flush()
    await queue_alert_notification(session, alert.id)
    log.warning("aletheia.risk_detected", alert_id=str(alert.id), risk=screen.risk.name)
    return alert.id


async def recent_context(
    session: AsyncSession, patient_id: uuid.UUID, *, exclude: uuid.UUID | None = None
) -> tuple[list[str], Risk]:
    """The patient's messages of the last hours (oldest first) and their highest stored risk."""
    since = utcnow() - CONTEXT_WINDOW
    rows = [
        row
        for row in (await session.execute(_CONTEXT, {"patient_id": patient_id, "since": since}))
        if row.id != exclude
    ][:CONTEXT_MESSAGES]
    texts = [row.body for row in reversed(rows) if row.body]
    risk = max((Risk[row.screen_risk] for row in rows), default=Risk.LOW)
    return texts, risk


async def screen_with_context(
    session: AsyncSession, patient_id: uuid.UUID, text: str, *, exclude: uuid.UUID | None = None
) -> ScreenResult:
    """Screen a message with the patient's recent messages, off the event loop (the
    classifier's encoder takes tens of milliseconds of CPU)."""
    context, context_risk = await recent_context(session, patient_id, exclude=exclude)
    return await asyncio.to_thread(screen_message, text, context=context, context_risk=context_risk)


def local_day(moment: datetime, timezone: str) -> date:
    """The practice's calendar day at `moment` (analyses are per local day)."""
    try:
        zone = ZoneInfo(timezone)
    except (KeyError, ValueError):
        zone = ZoneInfo("Europe/Madrid")
    return moment.astimezone(zone).date()
