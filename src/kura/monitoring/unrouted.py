"""Inbound messages that are not (or no longer) an enrolled patient's: enrollment codes,
withdrawals, and phones with no enrollment. Nothing of their text is kept (a withdrawal keeps
only that it arrived, for its redelivery); anyone at risk gets the safety reply with the
emergency numbers of their country."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from sqlalchemy.ext.asyncio import AsyncSession

from kura.aletheia.screen import screen_message
from kura.config import Settings
from kura.logging import get_logger
from kura.monitoring import replies
from kura.monitoring.enrollment import bind_from_code, withdraw
from kura.monitoring.models import Direction, Routing
from kura.monitoring.service import (
    Inbound,
    Outcome,
    bound_patient,
    monitored,
    previous_reply,
    store_once,
    store_reply,
)
from kura.orgs.models import Organization
from kura.patients.models import Patient

log = get_logger(__name__)


async def _metadata_only(session: AsyncSession, inbound: Inbound) -> Outcome | None:
    """Store that a message arrived (no text, no practice); None when it is a redelivery."""
    stored = await store_once(
        session,
        direction=Direction.INBOUND,
        routing=Routing.NO_CONSENT,
        provider_sid=inbound.sid,
        from_number=inbound.from_number,
        to_number=inbound.to_number,
        media_content_type=inbound.media_content_type,
    )
    if stored is None:
        return Outcome(reply=await previous_reply(session, inbound.sid))
    return Outcome(reply=None, message_id=stored)


async def _answer(session: AsyncSession, inbound: Inbound, outcome: Outcome, text: str) -> Outcome:
    if outcome.message_id is None:  # a redelivery: already answered
        return outcome
    await store_reply(session, inbound, outcome.message_id, text, routing=Routing.NO_CONSENT)
    return Outcome(reply=text, message_id=outcome.message_id)


async def answer_enrollment(
    session: AsyncSession, settings: Settings, inbound: Inbound, code: str
) -> Outcome:
    """A code from the patient's phone: bind it (then the message is the patient's first),
    or refuse it — with the emergency numbers either way."""
    patient = await bind_from_code(
        session,
        code=code,
        from_number=inbound.from_number,
        to_number=inbound.to_number,
        sid=inbound.sid,
        shared_number=settings.twilio_whatsapp_number,
        allow_any_number=not settings.is_production,
    )
    if patient is not None:
        organization = await session.get_one(Organization, patient.organization_id)
        return await monitored(session, settings, inbound, patient, organization, enrolled=True)
    bound = await bound_patient(session, inbound)
    if bound is not None:  # an enrolled patient re-sending an old code: still their message
        return await monitored(session, settings, inbound, *bound)
    return await _stateless(inbound, "enrollment_refused", replies.enrollment_refused)


async def answer_not_enrolled(inbound: Inbound) -> Outcome:
    """A phone bound to nobody on this number: whatever records name it, nothing is routed
    and nothing is stored. At risk: the safety reply; otherwise how to enroll."""
    return await _stateless(inbound, "not_enrolled", replies.not_enrolled)


async def answer_unknown_sender(inbound: Inbound) -> Outcome:
    """Not to one of our numbers, or from no phone we can parse: silent unless at risk."""
    log.info("whatsapp.unknown_sender", sid=inbound.sid)
    return await _stateless(inbound, "unknown_sender", None)


async def _stateless(
    inbound: Inbound, reason: str, otherwise: Callable[..., str] | None
) -> Outcome:
    """Screened in memory only: nothing of the text is kept where nobody consented. At risk:
    the safety reply (and a content-free event for the operator); else `otherwise`."""
    screen = await asyncio.to_thread(screen_message, inbound.body)
    country = replies.country_of(inbound.from_number)
    if screen.needs_alert:
        log.warning("whatsapp.unrouted_at_risk", reason=reason, risk=screen.risk.name)
        text = replies.safety_reply(None, country=country, risk=screen.risk, alerted=False)
        return Outcome(reply=text, screen=screen)
    return Outcome(reply=otherwise(country=country) if otherwise else None)


async def answer_withdrawal(session: AsyncSession, inbound: Inbound, patient: Patient) -> Outcome:
    """BAJA / STOP from the enrolled phone: monitoring stops and stored texts are purged."""
    await withdraw(session, patient, actor_id=None, by="patient")
    outcome = await _metadata_only(session, inbound)
    if outcome is None or outcome.message_id is None:
        return outcome or Outcome(reply=None)
    country = replies.country_of(inbound.from_number)
    return await _answer(
        session, inbound, outcome, replies.withdrawn(patient.language, country=country)
    )
