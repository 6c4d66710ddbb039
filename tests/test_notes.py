"""Clinical notes: for OWNER and THERAPIST only; newest first; audited."""

from __future__ import annotations

from httpx import AsyncClient
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kura.audit.models import AuditEvent
from kura.config import Settings
from kura.users.models import Role
from tests.factories import Member, make_patient, make_staff


async def test_therapist_writes_and_reads_notes_newest_first(
    client: AsyncClient, owner: Member, session: AsyncSession, settings: Settings
) -> None:
    therapist = await make_staff(session, settings, owner.organization, Role.THERAPIST)
    patient = await make_patient(session, owner.organization)
    url = f"/api/v1/patients/{patient.id}/notes"
    first = await client.post(
        url, headers=therapist.headers, json={"type": "SESSION_NOTE", "content": "Primera sesión"}
    )
    assert first.status_code == 201, first.text
    second = await client.post(url, headers=owner.headers, json={"content": "Seguimiento"})
    assert second.json()["type"] == "NOTE"
    listed = (await client.get(url, headers=therapist.headers)).json()
    assert listed["total"] == 2
    assert [n["content"] for n in listed["items"]] == ["Seguimiento", "Primera sesión"]
    note_url = f"/api/v1/notes/{first.json()['id']}"
    patched = await client.patch(note_url, headers=therapist.headers, json={"content": "Editada"})
    assert patched.json()["content"] == "Editada"
    assert (await client.delete(note_url, headers=therapist.headers)).status_code == 204
    deleted = (await client.get(note_url, headers=owner.headers)).json()
    assert deleted["deleted_at"] is not None  # a draft's delete is soft (restorable)
    assert (await client.get(url, headers=therapist.headers)).json()["total"] == 1


async def test_assistants_never_see_clinical_content(
    client: AsyncClient, owner: Member, session: AsyncSession, settings: Settings
) -> None:
    assistant = await make_staff(session, settings, owner.organization, Role.ASSISTANT)
    patient = await make_patient(session, owner.organization)
    note = await client.post(
        f"/api/v1/patients/{patient.id}/notes", headers=owner.headers, json={"content": "x"}
    )
    note_url = f"/api/v1/notes/{note.json()['id']}"
    attempts = [
        client.get(f"/api/v1/patients/{patient.id}/notes", headers=assistant.headers),
        client.post(
            f"/api/v1/patients/{patient.id}/notes", headers=assistant.headers, json={"content": "y"}
        ),
        client.get(note_url, headers=assistant.headers),
        client.patch(note_url, headers=assistant.headers, json={"content": "z"}),
        client.delete(note_url, headers=assistant.headers),
    ]
    for attempt in attempts:
        response = await attempt
        assert response.status_code == 403
        assert "x" not in response.json()["detail"].split()


async def test_empty_or_huge_notes_are_422(
    client: AsyncClient, owner: Member, session: AsyncSession
) -> None:
    patient = await make_patient(session, owner.organization)
    url = f"/api/v1/patients/{patient.id}/notes"
    assert (
        await client.post(url, headers=owner.headers, json={"content": "  "})
    ).status_code == 422
    huge = {"content": "a" * 50_001}
    assert (await client.post(url, headers=owner.headers, json=huge)).status_code == 422
    bad_type = {"content": "ok", "type": "DIAGNOSIS"}
    assert (await client.post(url, headers=owner.headers, json=bad_type)).status_code == 422


async def test_note_events_name_the_patient_but_hold_no_text(
    client: AsyncClient, owner: Member, session: AsyncSession
) -> None:
    patient = await make_patient(session, owner.organization)
    await client.post(
        f"/api/v1/patients/{patient.id}/notes",
        headers=owner.headers,
        json={"content": "Ideación muy sensible"},
    )
    events = list(
        await session.scalars(
            select(AuditEvent).where(AuditEvent.details["patient_id"].astext == str(patient.id))
        )
    )
    assert [e.action for e in events] == ["note.created"]
    assert "sensible" not in str(events[0].details)
