"""The audit trail is append-only in the database and readable by owners and operators."""

from __future__ import annotations

import pytest
from httpx import AsyncClient
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from kura.config import Settings
from kura.users.models import Role
from tests.factories import Member, make_owner, make_patient, make_staff, make_superuser


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_event SET action = 'forged'",
        "DELETE FROM audit_event",
        "TRUNCATE audit_event",
    ],
)
async def test_the_database_refuses_to_change_history(
    client: AsyncClient, owner: Member, session: AsyncSession, statement: str
) -> None:
    await client.post(
        "/api/v1/auth/login", json={"email": owner.user.email, "password": "wrong-password-1"}
    )
    with pytest.raises(DBAPIError, match="append-only"):
        async with session.begin_nested():
            await session.execute(text(statement))


async def test_owner_reads_own_organization_only_with_filters(
    client: AsyncClient, owner: Member, session: AsyncSession, settings: Settings
) -> None:
    other = await make_owner(session, settings)
    mine = await make_patient(session, owner.organization)
    theirs = await make_patient(session, other.organization)
    await client.get(f"/api/v1/patients/{mine.id}", headers=owner.headers)
    await client.get(f"/api/v1/patients/{theirs.id}", headers=other.headers)
    page = (await client.get("/api/v1/audit", headers=owner.headers)).json()
    assert page["total"] >= 1
    assert {e["organization_id"] for e in page["items"]} == {str(owner.organization.id)}
    by_patient = (
        await client.get(f"/api/v1/audit?patient_id={mine.id}", headers=owner.headers)
    ).json()
    assert [e["action"] for e in by_patient["items"]] == ["patient.viewed"]
    foreign = (
        await client.get(f"/api/v1/audit?patient_id={theirs.id}", headers=owner.headers)
    ).json()
    assert foreign["total"] == 0
    by_action = (
        await client.get("/api/v1/audit?action=patient.viewed&page_size=1", headers=owner.headers)
    ).json()
    assert by_action["page_size"] == 1 and len(by_action["items"]) == 1
    bad_range = await client.get(
        "/api/v1/audit?since=2026-02-01T00:00:00Z&until=2026-01-01T00:00:00Z",
        headers=owner.headers,
    )
    assert bad_range.status_code == 400


async def test_superusers_read_everything_and_other_roles_nothing(
    client: AsyncClient, owner: Member, session: AsyncSession, settings: Settings
) -> None:
    other = await make_owner(session, settings)
    await client.get(
        f"/api/v1/patients/{(await make_patient(session, other.organization)).id}",
        headers=other.headers,
    )
    therapist = await make_staff(session, settings, owner.organization, Role.THERAPIST)
    assert (await client.get("/api/v1/audit", headers=therapist.headers)).status_code == 403
    await make_superuser(session, settings, owner)
    everything = (await client.get("/api/v1/audit?page_size=200", headers=owner.headers)).json()
    assert str(other.organization.id) in {e["organization_id"] for e in everything["items"]}


async def test_bookings_and_note_signing_are_audited_and_filtered_by_area(
    client: AsyncClient, owner: Member, session: AsyncSession
) -> None:
    patient = await make_patient(session, owner.organization)
    service = await client.post(
        "/api/v1/services",
        headers=owner.headers,
        json={"name": "Sesión", "duration_minutes": 50, "price_cents": 0},
    )
    booking = await client.post(
        "/api/v1/bookings",
        headers=owner.headers,
        json={
            "patient_id": str(patient.id),
            "service_id": service.json()["id"],
            "starts_at": "2030-01-07T10:00:00Z",
        },
    )
    assert booking.status_code == 201, booking.text
    booking_url = f"/api/v1/bookings/{booking.json()['id']}"
    await client.patch(booking_url, headers=owner.headers, json={"status": "CANCELLED"})
    note = await client.post(
        f"/api/v1/patients/{patient.id}/notes", headers=owner.headers, json={"content": "n"}
    )
    await client.post(f"/api/v1/notes/{note.json()['id']}/sign", headers=owner.headers)

    bookings = (await client.get("/api/v1/audit?action=booking", headers=owner.headers)).json()
    assert [(e["action"], e["details"]["status"]) for e in bookings["items"]] == [
        ("booking.updated", "CANCELLED"),
        ("booking.created", booking.json()["status"]),
    ]
    signed = (await client.get("/api/v1/audit?action=note.signed", headers=owner.headers)).json()
    assert [e["target_id"] for e in signed["items"]] == [note.json()["id"]]
    for bad in ("bookings", "note.sined"):
        refused = await client.get(f"/api/v1/audit?action={bad}", headers=owner.headers)
        assert refused.status_code == 400
        assert "Unknown audit" in refused.json()["detail"]
