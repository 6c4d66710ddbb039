"""Patients: validation, phone normalisation, uniqueness per practice, search, audit."""

from __future__ import annotations

import pytest
from httpx import AsyncClient
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kura.audit.models import AuditEvent
from kura.config import Settings
from kura.users.models import Role
from tests.factories import Member, make_owner, make_staff


async def _create(client: AsyncClient, member: Member, **body: object) -> dict[str, object]:
    response = await client.post("/api/v1/patients", headers=member.headers, json=body)
    assert response.status_code == 201, response.text
    data: dict[str, object] = response.json()
    return data


async def test_create_read_update_delete(client: AsyncClient, owner: Member) -> None:
    created = await _create(
        client, owner, full_name="María López", phone="600 123 456", email="maria@example.org"
    )
    assert created["phone"] == "+34600123456"
    assert created["monitoring_consent"] is False and created["language"] == "es"
    url = f"/api/v1/patients/{created['id']}"
    assert (await client.get(url, headers=owner.headers)).json()["full_name"] == "María López"
    updated = await client.patch(
        url, headers=owner.headers, json={"monitoring_consent": True, "language": "en"}
    )
    assert updated.status_code == 200
    assert updated.json()["monitoring_consent"] is True
    assert updated.json()["monitoring_consent_at"] is not None
    cleared = await client.patch(url, headers=owner.headers, json={"phone": None})
    assert cleared.json()["phone"] is None
    assert (await client.delete(url, headers=owner.headers)).status_code == 204
    assert (await client.get(url, headers=owner.headers)).status_code == 404


@pytest.mark.parametrize(
    ("body", "where"),
    [
        ({"full_name": "A", "phone": "12"}, "phone"),
        ({"full_name": "A", "phone": "+34 123"}, "phone"),
        ({"full_name": "A", "phone": "call me maybe"}, "phone"),
        ({"full_name": "A", "email": "nope"}, "email"),
        ({"full_name": ""}, "full_name"),
        ({"full_name": "x" * 201}, "full_name"),
        ({"full_name": "A", "language": "fr"}, "language"),
        ({"full_name": "A", "organization_id": "00000000-0000-0000-0000-000000000000"}, "org"),
    ],
)
async def test_bad_patient_input_is_422_with_a_message(
    client: AsyncClient, owner: Member, body: dict[str, object], where: str
) -> None:
    response = await client.post("/api/v1/patients", headers=owner.headers, json=body)
    assert response.status_code == 422
    assert where in response.json()["detail"]


async def test_a_phone_is_unique_within_a_practice_only(
    client: AsyncClient, owner: Member, session: AsyncSession, settings: Settings
) -> None:
    await _create(client, owner, full_name="Uno", phone="+34 611 222 333")
    again = await client.post(
        "/api/v1/patients", headers=owner.headers, json={"full_name": "Dos", "phone": "611222333"}
    )
    assert again.status_code == 409
    other = await make_owner(session, settings)
    await _create(client, other, full_name="Tres", phone="611 222 333")


async def test_search_and_pagination(client: AsyncClient, owner: Member) -> None:
    for name in ("Zoe Ruiz", "Alba Gil", "Marta Sanz", "Alberto Gil"):
        await _create(client, owner, full_name=name, email=f"{name.split()[0].lower()}@ex.org")
    page = (await client.get("/api/v1/patients?page_size=2&page=1", headers=owner.headers)).json()
    assert page["total"] == 4 and [p["full_name"] for p in page["items"]] == [
        "Alba Gil",
        "Alberto Gil",
    ]
    found = (await client.get("/api/v1/patients?q=gil", headers=owner.headers)).json()
    assert {p["full_name"] for p in found["items"]} == {"Alba Gil", "Alberto Gil"}
    by_mail = (await client.get("/api/v1/patients?q=zoe@", headers=owner.headers)).json()
    assert by_mail["total"] == 1
    wildcard = (await client.get("/api/v1/patients?q=%25", headers=owner.headers)).json()
    assert wildcard["total"] == 0  # % is searched for literally, not as a wildcard
    bad = await client.get("/api/v1/patients?page=0", headers=owner.headers)
    assert bad.status_code == 422


async def test_assistants_manage_patient_records(
    client: AsyncClient, owner: Member, session: AsyncSession, settings: Settings
) -> None:
    assistant = await make_staff(session, settings, owner.organization, Role.ASSISTANT)
    created = await _create(client, assistant, full_name="Recepción")
    assert created["organization_id"] == str(owner.organization.id)


async def test_patient_reads_and_writes_are_audited_without_content(
    client: AsyncClient, owner: Member, session: AsyncSession
) -> None:
    created = await _create(client, owner, full_name="Secreto Nombre", phone="+34 622 000 111")
    url = f"/api/v1/patients/{created['id']}"
    await client.get(url, headers=owner.headers)
    await client.patch(url, headers=owner.headers, json={"full_name": "Otro Nombre"})
    await client.delete(url, headers=owner.headers)
    events = list(
        await session.scalars(
            select(AuditEvent)
            .where(AuditEvent.target_id == str(created["id"]))
            .order_by(AuditEvent.id)
        )
    )
    assert [e.action for e in events] == [
        "patient.created",
        "patient.viewed",
        "patient.updated",
        "patient.deleted",
    ]
    assert all(e.actor_id == owner.user.id and e.request_id for e in events)
    assert events[2].details == {"fields": ["full_name"]}
    dumped = " ".join(str(e.details) for e in events)
    assert "Secreto" not in dumped and "Otro" not in dumped
