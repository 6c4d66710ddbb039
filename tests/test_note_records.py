"""Notes that hold up: signing locks, addenda, strike-through, versions, private notes, soft
deletion with a 30-day restore, templates, and AletheIA screening of session notes."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from httpx import AsyncClient
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from kura.audit.models import AuditEvent
from kura.auth.sessions import utcnow
from kura.bookings.models import Booking, Service
from kura.clinical.models import ClinicalNote
from kura.config import Settings
from kura.monitoring.models import RiskAlert
from kura.users.models import Role
from tests.factories import Member, make_patient, make_staff


async def _note(
    client: AsyncClient, member: Member, patient_id: object, **body: object
) -> dict[str, Any]:
    body.setdefault("content", "Sesión tranquila; trabajamos respiración.")
    response = await client.post(
        f"/api/v1/patients/{patient_id}/notes", headers=member.headers, json=body
    )
    assert response.status_code == 201, response.text
    note: dict[str, Any] = response.json()
    return note


async def test_a_signed_note_is_locked_and_takes_addenda_and_strike_through(
    client: AsyncClient, owner: Member, session: AsyncSession, settings: Settings
) -> None:
    therapist = await make_staff(session, settings, owner.organization, Role.THERAPIST)
    patient = await make_patient(session, owner.organization)
    note = await _note(client, therapist, patient.id)
    assert note["status"] == "DRAFT"
    url = f"/api/v1/notes/{note['id']}"

    assert (await client.post(f"{url}/sign", headers=owner.headers)).status_code == 403
    signed = await client.post(f"{url}/sign", headers=therapist.headers)
    assert signed.status_code == 200
    assert signed.json()["status"] == "SIGNED"
    assert signed.json()["signed_by_id"] == str(therapist.user.id)
    assert (await client.post(f"{url}/sign", headers=therapist.headers)).status_code == 409

    for attempt in (
        client.patch(url, headers=therapist.headers, json={"content": "otra cosa"}),
        client.patch(url, headers=owner.headers, json={"type": "SESSION_NOTE"}),
        client.delete(url, headers=owner.headers),
    ):
        response = await attempt
        assert response.status_code == 409, response.text
        assert "signed" in response.json()["detail"]

    added = await client.post(
        f"{url}/addenda", headers=owner.headers, json={"content": "Aclaración: fue el martes."}
    )
    assert added.status_code == 201
    [addendum] = added.json()["addenda"]
    assert addendum["signed_by_name"] == owner.user.full_name
    assert added.json()["content"] == note["content"]

    short = await client.post(f"{url}/strike", headers=therapist.headers, json={"reason": ""})
    assert short.status_code == 422
    struck = await client.post(
        f"{url}/strike", headers=therapist.headers, json={"reason": "Paciente equivocado"}
    )
    assert struck.status_code == 200
    assert struck.json()["strike_reason"] == "Paciente equivocado"
    assert struck.json()["content"] == note["content"]  # struck through, still readable
    again = await client.post(f"{url}/strike", headers=owner.headers, json={"reason": "otra"})
    assert again.status_code == 409
    late = await client.post(f"{url}/addenda", headers=owner.headers, json={"content": "x"})
    assert late.status_code == 409

    actions = set(
        await session.scalars(select(AuditEvent.action).where(AuditEvent.target_id == note["id"]))
    )
    assert {"note.signed", "note.addendum_added", "note.struck_through"} <= actions


async def test_only_signed_notes_take_addenda_and_drafts_are_not_struck(
    client: AsyncClient, owner: Member, session: AsyncSession
) -> None:
    patient = await make_patient(session, owner.organization)
    note = await _note(client, owner, patient.id)
    url = f"/api/v1/notes/{note['id']}"
    assert (
        await client.post(f"{url}/addenda", headers=owner.headers, json={"content": "x"})
    ).status_code == 409
    assert (
        await client.post(f"{url}/strike", headers=owner.headers, json={"reason": "error"})
    ).status_code == 409


async def test_edits_of_a_day_old_draft_keep_versions(
    client: AsyncClient, owner: Member, session: AsyncSession
) -> None:
    patient = await make_patient(session, owner.organization)
    note = await _note(client, owner, patient.id, content="Primera versión")
    url = f"/api/v1/notes/{note['id']}"
    fresh = await client.patch(url, headers=owner.headers, json={"content": "Corregida"})
    assert fresh.json()["version"] == 1  # same day: no version kept
    await session.execute(
        update(ClinicalNote)
        .where(ClinicalNote.id == fresh.json()["id"])
        .values(created_at=utcnow() - timedelta(hours=25))
    )
    later = await client.patch(url, headers=owner.headers, json={"content": "Revisada"})
    assert later.json()["version"] == 2
    again = await client.patch(url, headers=owner.headers, json={"content": "Final"})
    assert again.json()["version"] == 3
    versions = (await client.get(f"{url}/versions", headers=owner.headers)).json()["items"]
    assert [(v["version"], v["content"]) for v in versions] == [(1, "Corregida"), (2, "Revisada")]
    unchanged = await client.patch(url, headers=owner.headers, json={"is_private": True})
    assert unchanged.json()["version"] == 3  # only text changes are versioned


async def test_private_notes_are_seen_by_their_author_and_the_owner_only(
    client: AsyncClient, owner: Member, session: AsyncSession, settings: Settings
) -> None:
    author = await make_staff(session, settings, owner.organization, Role.THERAPIST)
    colleague = await make_staff(session, settings, owner.organization, Role.THERAPIST)
    patient = await make_patient(session, owner.organization)
    private = await _note(client, author, patient.id, content="Impresión personal", is_private=True)
    await _note(client, colleague, patient.id, content="Nota compartida")
    url = f"/api/v1/patients/{patient.id}/notes"

    def contents(page: dict[str, Any]) -> set[str]:
        return {n["content"] for n in page["items"]}

    assert contents((await client.get(url, headers=author.headers)).json()) == {
        "Impresión personal",
        "Nota compartida",
    }
    assert contents((await client.get(url, headers=owner.headers)).json()) == {
        "Impresión personal",
        "Nota compartida",
    }
    assert contents((await client.get(url, headers=colleague.headers)).json()) == {
        "Nota compartida"
    }
    note_url = f"/api/v1/notes/{private['id']}"
    for attempt in (
        client.get(note_url, headers=colleague.headers),
        client.patch(note_url, headers=colleague.headers, json={"content": "x"}),
        client.post(f"{note_url}/sign", headers=colleague.headers),
        client.get(f"{note_url}/versions", headers=colleague.headers),
    ):
        assert (await attempt).status_code == 404
    shared = await client.post(url, headers=colleague.headers, json={"content": "mía"})
    made_private = await client.patch(
        f"/api/v1/notes/{shared.json()['id']}", headers=author.headers, json={"is_private": True}
    )
    assert made_private.status_code == 403  # only its author (or the owner) decides


async def test_a_deleted_draft_is_restorable_for_30_days(
    client: AsyncClient, owner: Member, session: AsyncSession, settings: Settings
) -> None:
    therapist = await make_staff(session, settings, owner.organization, Role.THERAPIST)
    patient = await make_patient(session, owner.organization)
    note = await _note(client, therapist, patient.id)
    url = f"/api/v1/notes/{note['id']}"
    other = await make_staff(session, settings, owner.organization, Role.THERAPIST)
    assert (await client.delete(url, headers=other.headers)).status_code == 403
    assert (await client.delete(url, headers=therapist.headers)).status_code == 204
    listing = f"/api/v1/patients/{patient.id}/notes"
    assert (await client.get(listing, headers=therapist.headers)).json()["total"] == 0
    deleted = (await client.get(f"{listing}?deleted=true", headers=therapist.headers)).json()
    assert [n["id"] for n in deleted["items"]] == [note["id"]]
    assert (
        await client.patch(url, headers=therapist.headers, json={"content": "x"})
    ).status_code == 404
    restored = await client.post(f"{url}/restore", headers=therapist.headers)
    assert restored.status_code == 200
    assert restored.json()["deleted_at"] is None
    assert (await client.post(f"{url}/restore", headers=therapist.headers)).status_code == 409

    await client.delete(url, headers=therapist.headers)
    await session.execute(
        update(ClinicalNote)
        .where(ClinicalNote.id == restored.json()["id"])
        .values(deleted_at=utcnow() - timedelta(days=31))
    )
    gone = await client.post(f"{url}/restore", headers=therapist.headers)
    assert gone.status_code == 410
    assert "30 days" in gone.json()["detail"]


async def test_soap_and_practice_templates(
    client: AsyncClient, owner: Member, session: AsyncSession
) -> None:
    patient = await make_patient(session, owner.organization)
    url = f"/api/v1/patients/{patient.id}/notes"
    soap = await _note(
        client,
        owner,
        patient.id,
        content=None,
        template="SOAP",
        sections={"subjective": "Duerme mal", "plan": "Diario de sueño"},
    )
    assert [s["heading"] for s in soap["sections"]] == list(
        ("subjective", "objective", "assessment", "plan")
    )
    assert "Subjective:\nDuerme mal" in soap["content"]
    assert "Objective" not in soap["content"]  # empty sections are left out of the text
    bad = await client.post(
        url, headers=owner.headers, json={"template": "SOAP", "sections": {"mood": "ok"}}
    )
    assert bad.status_code == 400
    assert "mood" in bad.json()["detail"]
    none = await client.post(
        url, headers=owner.headers, json={"template": "PRACTICE", "sections": {"a": "b"}}
    )
    assert none.status_code == 400
    owner.organization.note_sections = ["Motivo", "Intervención"]
    await session.flush()
    practice = await _note(
        client, owner, patient.id, content=None, template="PRACTICE", sections={"Motivo": "Duelo"}
    )
    assert practice["content"] == "Motivo:\nDuelo"
    edited = await client.patch(
        f"/api/v1/notes/{practice['id']}",
        headers=owner.headers,
        json={"sections": {"Motivo": "Duelo", "Intervención": "Escucha"}},
    )
    assert edited.json()["content"] == "Motivo:\nDuelo\n\nIntervención:\nEscucha"
    free_with_sections = await client.post(
        url, headers=owner.headers, json={"content": "x", "sections": {"a": "b"}}
    )
    assert free_with_sections.status_code == 400
    assert (await client.post(url, headers=owner.headers, json={})).status_code == 400


async def test_a_note_links_only_to_the_patients_own_booking(
    client: AsyncClient, owner: Member, session: AsyncSession
) -> None:
    patient = await make_patient(session, owner.organization)
    someone_else = await make_patient(session, owner.organization)
    service = Service(
        organization_id=owner.organization.id, name="Sesión", duration_minutes=50, price_cents=0
    )
    session.add(service)
    await session.flush()
    start = utcnow() + timedelta(days=1)
    bookings = [
        Booking(
            organization_id=owner.organization.id,
            patient_id=who.id,
            service_id=service.id,
            starts_at=start,
            ends_at=start + timedelta(minutes=50),
            amount_cents=0,
            currency="eur",
        )
        for who in (patient, someone_else)
    ]
    session.add_all(bookings)
    await session.flush()
    url = f"/api/v1/patients/{patient.id}/notes"
    theirs = await client.post(
        url, headers=owner.headers, json={"content": "x", "booking_id": str(bookings[1].id)}
    )
    assert theirs.status_code == 400
    assert "booking" in theirs.json()["detail"]
    own = await client.post(
        url, headers=owner.headers, json={"content": "x", "booking_id": str(bookings[0].id)}
    )
    assert own.json()["booking_id"] == str(bookings[0].id)


async def test_a_session_note_with_a_crisis_raises_one_alert(
    client: AsyncClient, owner: Member, session: AsyncSession
) -> None:
    patient = await make_patient(session, owner.organization)
    await _note(client, owner, patient.id, type="SESSION_NOTE")  # calm: no alert
    risky_text = (
        "Refiere que ayer escribió una carta de despedida y que ha guardado las pastillas "
        "para tomárselas todas este fin de semana."
    )
    risky = await _note(client, owner, patient.id, type="SESSION_NOTE", content=risky_text)
    await _note(client, owner, patient.id, type="NOTE", content=risky_text)  # not screened
    alerts = list(
        await session.scalars(select(RiskAlert).where(RiskAlert.patient_id == patient.id))
    )
    risky_id = uuid.UUID(risky["id"])
    assert [(a.note_id, a.source) for a in alerts] == [(risky_id, "note")]
    await client.patch(
        f"/api/v1/notes/{risky['id']}", headers=owner.headers, json={"content": risky_text + " Sí."}
    )
    alerts = list(await session.scalars(select(RiskAlert).where(RiskAlert.note_id == risky_id)))
    assert len(alerts) == 1  # already in front of a human: not raised twice
