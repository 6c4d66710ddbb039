"""Verified enrollment through the signed webhook: codes, phone checks, brute force, moving a
phone, withdrawal with purge, and two practices that cannot divert or silence each other."""

from __future__ import annotations

from typing import Any

from httpx import AsyncClient
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from kura.audit.models import AuditEvent
from kura.config import Settings
from kura.monitoring.models import DailyConversationAnalysis, Direction, MessageLog, RiskAlert
from kura.patients.models import Patient
from kura.users.models import Role
from tests.factories import Member, make_owner, make_patient, make_staff
from tests.test_monitoring import (
    PATIENT_PHONE,
    SHARED,
    consenting,
    message,
    send,
    twilio_settings,
    wa,
)

__all__ = [
    "consenting",
    "twilio_settings",
    "wa",
]  # the webhook fixtures, shared with test_monitoring


async def _code(client: AsyncClient, member: Member, patient: Patient) -> dict[str, Any]:
    response = await client.post(
        f"/api/v1/patients/{patient.id}/monitoring/enrollment", headers=member.headers
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_a_patient_enrolls_from_their_own_phone(
    wa: AsyncClient, session: AsyncSession, owner: Member, settings: Settings
) -> None:
    patient = await make_patient(session, owner.organization, phone=PATIENT_PHONE)
    created = await _code(wa, owner, patient)
    assert created["code"].startswith("KURA-") and len(created["code"]) == 14
    assert created["whatsapp_url"].startswith("https://wa.me/34911000000?text=KURA-")
    assert created["monitoring_status"] == "pending"
    # Before the code, nothing the patient writes is routed, whatever staff ticked.
    before = await send(wa, message("hola"))
    assert "código" in before.text
    reply = await send(wa, message(f"Hola! {created['code'].lower()}"))
    assert "Listo" in reply.text and "112" in reply.text and "BAJA" in reply.text
    assert owner.organization.name in reply.text  # the patient sees who will read them
    await session.refresh(patient)
    assert patient.monitoring_status == "active" and patient.monitoring_phone == PATIENT_PHONE
    assert patient.monitoring_enrollment_sid is not None  # the consent evidence
    audited = await session.scalar(
        select(AuditEvent).where(AuditEvent.action == "monitoring.enrolled")
    )
    assert audited is not None and audited.target_id == str(patient.id)
    await send(wa, message("Hoy estoy mejor"))
    routed = await session.scalar(select(MessageLog).where(MessageLog.body == "Hoy estoy mejor"))
    assert routed is not None and routed.patient_id == patient.id
    # Single use: re-sent, the old code binds nothing new, and the enrolled patient's message
    # is still theirs (screened, alerted).
    again = await send(wa, message(f"{created['code']} ya no puedo más, quiero morirme"))
    assert "Tu terapeuta recibirá un aviso" in again.text
    assert await session.scalar(select(func.count()).select_from(RiskAlert)) == 1
    # Words that mean other things do not withdraw anyone.
    await send(wa, message("Alto"))
    await session.refresh(patient)
    assert patient.monitoring_status == "active"
    # Only clinical staff create codes; a patient without a phone cannot enroll.
    assistant = await make_staff(session, settings, owner.organization, Role.ASSISTANT)
    denied = await wa.post(
        f"/api/v1/patients/{patient.id}/monitoring/enrollment", headers=assistant.headers
    )
    assert denied.status_code == 403
    phoneless = await make_patient(session, owner.organization, phone=None)
    conflict = await wa.post(
        f"/api/v1/patients/{phoneless.id}/monitoring/enrollment", headers=owner.headers
    )
    assert conflict.status_code == 409 and "phone" in conflict.json()["detail"]


async def test_a_code_from_another_phone_is_refused_and_guessing_locks(
    wa: AsyncClient, session: AsyncSession, owner: Member
) -> None:
    patient = await make_patient(session, owner.organization, phone=PATIENT_PHONE)
    code = (await _code(wa, owner, patient))["code"]
    intruder = "+34699111222"
    refused = await send(wa, message(code, sender=intruder))
    assert "no es válido" in refused.text
    for n in range(5):
        await send(wa, message(f"KURA-AAAA-AAA{'BCDEF'[n]}", sender=intruder))
    # Locked: even the right code from the right phone would now wait; from the intruder,
    # nothing binds.
    await send(wa, message(code, sender=intruder))
    await session.refresh(patient)
    assert patient.monitoring_status == "pending" and patient.monitoring_phone is None
    # The real phone still enrolls (the lock is per sending phone).
    assert "Listo" in (await send(wa, message(code))).text


async def test_another_practice_can_neither_divert_nor_silence_an_enrolled_patient(
    wa: AsyncClient, session: AsyncSession, owner: Member, settings: Settings
) -> None:
    mine = await make_patient(session, owner.organization, phone=PATIENT_PHONE)
    await send(wa, message((await _code(wa, owner, mine))["code"]))
    rival = await make_owner(session, settings)
    copies = [
        await make_patient(
            session, rival.organization, phone=PATIENT_PHONE, monitoring_consent=True,
            monitoring_status="none",
        )
        for _ in range(1)
    ]  # fmt: skip
    for _ in range(100):
        other = await make_owner(session, settings)
        await make_patient(session, other.organization, phone=PATIENT_PHONE)
    # The rival's own code for its copy is useless: it is not sent from the patient's phone.
    await _code(wa, rival, copies[0])
    settings_change = await wa.patch(
        "/api/v1/monitoring/settings", headers=rival.headers, json={"whatsapp_number": SHARED}
    )
    assert settings_change.status_code == 422
    reply = await send(wa, message("Esta noche me voy a matar, ya tengo las pastillas"))
    assert "Llama al 112 ahora" in reply.text and "Tu terapeuta recibirá un aviso" in reply.text
    alerts = list(await session.scalars(select(RiskAlert)))
    assert {a.organization_id for a in alerts} == {owner.organization.id}
    inbound = list(
        await session.scalars(select(MessageLog).where(MessageLog.direction == Direction.INBOUND))
    )
    assert {m.organization_id for m in inbound if m.body} == {owner.organization.id}
    assert all(m.organization_id != rival.organization.id for m in inbound)


async def test_enrolling_elsewhere_moves_the_phone_and_tells_the_first_practice(
    wa: AsyncClient, session: AsyncSession, owner: Member, settings: Settings
) -> None:
    first = await make_patient(session, owner.organization, phone=PATIENT_PHONE)
    await send(wa, message((await _code(wa, owner, first))["code"]))
    second_practice = await make_owner(session, settings)
    second = await make_patient(session, second_practice.organization, phone=PATIENT_PHONE)
    await send(wa, message((await _code(wa, second_practice, second))["code"]))
    await session.refresh(first)
    await session.refresh(second)
    assert (first.monitoring_status, second.monitoring_status) == ("moved", "active")
    told = await session.scalar(
        select(AuditEvent).where(
            AuditEvent.action == "monitoring.binding_moved",
            AuditEvent.organization_id == owner.organization.id,
        )
    )
    assert told is not None and told.target_id == str(first.id)


async def test_baja_stops_monitoring_and_purges_the_texts(
    wa: AsyncClient, session: AsyncSession, owner: Member, consenting: Any
) -> None:
    await send(wa, message("Hoy ha sido un día duro"))
    session.add(
        DailyConversationAnalysis(
            organization_id=owner.organization.id,
            patient_id=consenting.id,
            day=consenting.created_at.date(),
            summary="…",
            sentiment_score=0.0,
            emotional_state="Neutro",
            suggestion="…",
            message_count=1,
            generation_method="offline-rules",
        )
    )
    await session.flush()
    reply = await send(wa, message("BAJA"))
    assert "ya no recibirá" in reply.text and "112" in reply.text
    await session.refresh(consenting)
    assert consenting.monitoring_status == "withdrawn" and not consenting.monitoring_consent
    texts = await session.scalar(
        select(func.count())
        .select_from(MessageLog)
        .where(MessageLog.patient_id == consenting.id, MessageLog.body.is_not(None))
    )
    assert texts == 0  # in and out: what they wrote and what was answered
    assert await session.scalar(select(func.count()).select_from(DailyConversationAnalysis)) == 0
    after = await send(wa, message("otra cosa"))
    assert "código" in after.text  # no longer routed
    assert await session.scalar(select(MessageLog).where(MessageLog.body == "otra cosa")) is None


async def test_staff_can_revoke_and_the_purge_is_counted(
    wa: AsyncClient, session: AsyncSession, owner: Member, consenting: Any
) -> None:
    await send(wa, message("Hola"))
    response = await wa.delete(
        f"/api/v1/patients/{consenting.id}/monitoring/enrollment", headers=owner.headers
    )
    assert response.status_code == 200
    # The message and its acknowledgement.
    assert response.json() == {"monitoring_status": "withdrawn", "messages_purged": 2}
