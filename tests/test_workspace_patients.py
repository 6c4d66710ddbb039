"""Patients and notes in the workspace: add, search without accents, edit, refused input shown
next to its field, a note written, signed and amended (each audited), a crisis in a session
note reaching Today; what an assistant and another practice cannot do."""

from __future__ import annotations

import re
from datetime import timedelta

from httpx import AsyncClient
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kura.audit.models import AuditEvent
from kura.clinical.models import ClinicalNote
from kura.config import Settings
from kura.db.base import utcnow
from kura.patients.models import Patient
from kura.users.models import Role
from tests.factories import Member, make_owner, make_patient, make_staff
from tests.workspace_support import hidden, sign_in


async def _csrf(client: AsyncClient) -> str:
    return hidden((await client.get("/app/patients/new")).text, "csrf_token")


async def _actions(session: AsyncSession, member: Member) -> list[str]:
    rows = await session.scalars(
        select(AuditEvent.action).where(AuditEvent.actor_id == member.user.id)
    )
    return list(rows)


async def test_add_search_and_edit_a_patient_with_errors_next_to_their_fields(
    client: AsyncClient, owner: Member, session: AsyncSession, settings: Settings
) -> None:
    therapist = await make_staff(session, settings, owner.organization, Role.THERAPIST)
    await make_patient(session, owner.organization, full_name="Otra Persona", phone="+34600111222")
    await session.commit()
    await sign_in(client, therapist.user.email)
    csrf = await _csrf(client)

    bad = await client.post(
        "/app/patients",
        data={"csrf_token": csrf, "full_name": "Íñigo Núñez", "email": "not-an-email"},
    )
    assert bad.status_code == 422 and 'id="email-error"' in bad.text
    assert 'value="Íñigo Núñez"' in bad.text  # what was typed stays
    taken = await client.post(
        "/app/patients",
        data={"csrf_token": csrf, "full_name": "Íñigo Núñez", "phone": "+34 600 111 222"},
    )
    assert taken.status_code == 409 and 'id="form-error"' in taken.text
    made = await client.post(
        "/app/patients",
        data={
            "csrf_token": csrf,
            "full_name": "Íñigo Núñez",
            "email": "inigo@example.org",
            "phone": "+34 611 222 333",
            "language": "es",
        },
    )
    assert made.status_code == 303, made.text
    chart_path = made.headers["location"]
    assert re.fullmatch(r"/app/patients/[0-9a-f-]{36}", chart_path)
    names = await session.scalars(
        select(Patient.full_name).where(Patient.organization_id == owner.organization.id)
    )
    assert sorted(names) == ["Otra Persona", "Íñigo Núñez"]  # the refused tries left nothing

    found = await client.get("/app/patients", params={"q": "nunez"})
    assert found.status_code == 200 and "Íñigo Núñez" in found.text
    assert "Otra Persona" not in found.text and "Un paciente." in found.text

    edited = await client.post(
        f"{chart_path}/edit",
        data={"csrf_token": csrf, "full_name": "Íñigo Núñez Roca", "phone": "+34 611 222 444"},
    )
    assert edited.status_code == 303 and edited.headers["location"] == chart_path
    chart = await client.get(chart_path)
    assert "Íñigo Núñez Roca" in chart.text and "+34611222444" in chart.text
    actions = await _actions(session, therapist)
    assert {"patient.created", "patient.updated", "patient.listed", "patient.viewed"} <= set(
        actions
    )


async def test_a_note_is_written_signed_and_amended_and_a_crisis_reaches_today(
    client: AsyncClient, owner: Member, session: AsyncSession
) -> None:
    patient = await make_patient(session, owner.organization, full_name="Clara Vidal")
    await session.commit()
    await sign_in(client, owner.user.email)
    chart_path = f"/app/patients/{patient.id}"
    csrf = hidden((await client.get(chart_path)).text, "csrf_token")

    written = await client.post(
        f"{chart_path}/notes",
        data={
            "csrf_token": csrf,
            "type": "SESSION_NOTE",
            "content": "Dice que ya no quiere vivir y que ha pensado cómo hacerlo.",
        },
    )
    assert written.status_code == 303, written.text
    note_id = written.headers["location"].rsplit("#note-", 1)[1]
    chart = await client.get(chart_path)
    assert "ha pensado cómo hacerlo" in chart.text and "Borrador" in chart.text
    today = await client.get("/app")
    assert "Clara Vidal" in today.text  # AletheIA screened the session note: an open alert

    signed = await client.post(f"/app/notes/{note_id}/sign", data={"csrf_token": csrf})
    assert signed.status_code == 303
    chart = await client.get(chart_path)
    assert "Firmada" in chart.text and f'action="/app/notes/{note_id}/sign"' not in chart.text
    empty = await client.post(
        f"/app/notes/{note_id}/addenda", data={"csrf_token": csrf, "content": " "}
    )
    assert empty.status_code == 422
    amended = await client.post(
        f"/app/notes/{note_id}/addenda",
        data={"csrf_token": csrf, "content": "Llamada de seguimiento hecha."},
    )
    assert amended.status_code == 303
    chart = await client.get(chart_path)
    assert "Llamada de seguimiento hecha." in chart.text
    assert f"Adenda de {owner.user.full_name}" in chart.text
    actions = await _actions(session, owner)
    for action in ("note.created", "note.signed", "note.addendum_added", "note.viewed"):
        assert action in actions, action


async def test_an_assistant_sees_contact_details_but_no_clinical_content(
    client: AsyncClient, owner: Member, session: AsyncSession, settings: Settings
) -> None:
    patient = await make_patient(session, owner.organization, full_name="Pablo Ruiz")
    assistant = await make_staff(session, settings, owner.organization, Role.ASSISTANT)
    await session.commit()
    await sign_in(client, assistant.user.email)
    chart_path = f"/app/patients/{patient.id}"
    chart = await client.get(chart_path)
    assert chart.status_code == 200 and "Pablo Ruiz" in chart.text
    assert "Notas clínicas" not in chart.text and "monitoring_consent" not in chart.text
    csrf = hidden(chart.text, "csrf_token")
    refused = await client.post(
        f"{chart_path}/notes", data={"csrf_token": csrf, "content": "x", "type": "NOTE"}
    )
    assert refused.status_code == 403
    kept = await client.post(
        f"{chart_path}/edit",
        data={"csrf_token": csrf, "full_name": "Pablo Ruiz", "monitoring_consent": "on"},
    )
    assert kept.status_code == 303
    await session.refresh(patient)
    assert patient.monitoring_consent is False  # consent is not an assistant's to give


async def test_another_practices_patient_and_note_are_not_found(
    client: AsyncClient, owner: Member, session: AsyncSession, settings: Settings
) -> None:
    patient = await make_patient(session, owner.organization, full_name="Elena Mora")
    stranger = await make_owner(session, settings)
    await session.commit()
    await sign_in(client, owner.user.email)
    csrf = hidden((await client.get(f"/app/patients/{patient.id}")).text, "csrf_token")
    written = await client.post(
        f"/app/patients/{patient.id}/notes",
        data={"csrf_token": csrf, "type": "NOTE", "content": "Nota privada de la consulta."},
    )
    note_id = written.headers["location"].rsplit("#note-", 1)[1]

    client.cookies.clear()
    await sign_in(client, stranger.user.email)
    csrf = await _csrf(client)
    for path in (f"/app/patients/{patient.id}", f"/app/patients/{patient.id}/edit"):
        missing = await client.get(path)
        assert missing.status_code == 404 and "Elena Mora" not in missing.text, path
    for path, data in (
        (f"/app/patients/{patient.id}/notes", {"type": "NOTE", "content": "x"}),
        (f"/app/patients/{patient.id}/edit", {"full_name": "Hacked"}),
        (f"/app/notes/{note_id}/sign", {}),
        (f"/app/notes/{note_id}/addenda", {"content": "x"}),
    ):
        answer = await client.post(path, data={"csrf_token": csrf, **data})
        assert answer.status_code == 404, path
    listed = await client.get("/app/patients", params={"q": "Elena"})
    assert "Elena Mora" not in listed.text


async def test_a_long_chart_shows_its_notes_a_page_at_a_time(
    client: AsyncClient, owner: Member, session: AsyncSession
) -> None:
    patient = await make_patient(session, owner.organization, full_name="Rosa Llull")
    for n in range(25):
        session.add(
            ClinicalNote(
                organization_id=owner.organization.id,
                patient_id=patient.id,
                content=f"Nota número {n:02d}.",
                created_at=utcnow() - timedelta(days=n),
            )
        )
    await session.commit()
    await sign_in(client, owner.user.email)
    first = await client.get(f"/app/patients/{patient.id}")
    assert "Nota número 00." in first.text and "Nota número 19." in first.text
    assert "Nota número 20." not in first.text and "Notas anteriores" in first.text
    second = await client.get(f"/app/patients/{patient.id}", params={"notes_page": 2})
    assert "Nota número 24." in second.text and "Nota número 19." not in second.text
    assert "Notas más recientes" in second.text and "Notas anteriores" not in second.text
    shown = await session.scalars(
        select(AuditEvent.details).where(
            AuditEvent.actor_id == owner.user.id, AuditEvent.action == "note.viewed"
        )
    )
    assert sorted(len(d["notes"]) for d in shown) == [5, 20]  # each page audits what it showed
