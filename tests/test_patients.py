"""Patients: validation, phone normalisation, uniqueness per practice, search, audit."""

from __future__ import annotations

import uuid

import pytest
from httpx import AsyncClient
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from kura.audit.models import AuditEvent
from kura.auth.sessions import Authenticated
from kura.config import Settings
from kura.patients.service import search_patients, search_statement
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
    deleted = (await client.get(url, headers=owner.headers)).json()  # restricted, not erased
    assert deleted["restricted_at"] is not None and deleted["retain_until"] is not None
    listed = (await client.get("/api/v1/patients", headers=owner.headers)).json()
    assert created["id"] not in [p["id"] for p in listed["items"]]


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
        "patient.restricted",
    ]
    assert all(e.actor_id == owner.user.id and e.request_id for e in events)
    assert events[2].details == {"fields": ["full_name"]}
    dumped = " ".join(str(e.details) for e in events)
    assert "Secreto" not in dumped and "Otro" not in dumped


async def _names(client: AsyncClient, member: Member, q: str) -> set[str]:
    response = await client.get("/api/v1/patients", headers=member.headers, params={"q": q})
    assert response.status_code == 200, response.text
    return {p["full_name"] for p in response.json()["items"]}


@pytest.mark.parametrize(
    ("typed", "found"),
    [
        ("maria", "María López"),
        ("fernandez", "Pedro Fernández"),
        ("nunez", "Ana Núñez"),
        ("JOSE", "José Martín"),
        ("martin", "José Martín"),
        ("lluis", "Lluís Forçat"),
        ("forcat", "Lluís Forçat"),
        ("gracia", "Gràcia Vidal"),
        ("ibáñez", "Nuria Ibanez"),  # accents typed, none stored: folded on both sides
        ("GRÀCIA VID", "Gràcia Vidal"),
    ],
)
async def test_search_ignores_accents_and_case(
    client: AsyncClient, owner: Member, typed: str, found: str
) -> None:
    for name in (
        "María López",
        "Pedro Fernández",
        "Ana Núñez",
        "José Martín",
        "Lluís Forçat",
        "Gràcia Vidal",
        "Nuria Ibanez",
    ):
        await _create(client, owner, full_name=name)
    assert await _names(client, owner, typed) == {found}


async def test_folded_search_still_matches_email_and_phone(
    client: AsyncClient, owner: Member
) -> None:
    await _create(client, owner, full_name="Núñez", email="ana.nunez@ex.org", phone="600123456")
    await _create(client, owner, full_name="Otra", email="otra@ex.org", phone="611000000")
    assert await _names(client, owner, "ANA.NUNEZ@") == {"Núñez"}
    assert await _names(client, owner, "600123") == {"Núñez"}
    assert await _names(client, owner, "+34611") == {"Otra"}


async def test_like_metacharacters_stay_literal_after_folding(
    client: AsyncClient, owner: Member
) -> None:
    for name in ("100% Núñez", "Ana_Gil", "Ana Gil", "Barra \\ Ruiz", "Anagil"):
        await _create(client, owner, full_name=name)
    assert await _names(client, owner, "%") == {"100% Núñez"}
    assert await _names(client, owner, "_") == {"Ana_Gil"}
    assert await _names(client, owner, "ana_gil") == {"Ana_Gil"}
    assert await _names(client, owner, "\\") == {"Barra \\ Ruiz"}
    # unaccent folds the full-width forms to "%", "_" and "\": they must not become wildcards.
    assert await _names(client, owner, "\uff05") == {"100% Núñez"}
    assert await _names(client, owner, "ana\uff3fgil") == {"Ana_Gil"}
    assert await _names(client, owner, "\uff3c") == {"Barra \\ Ruiz"}


async def test_folded_search_never_finds_another_practice(
    client: AsyncClient, owner: Member, session: AsyncSession, settings: Settings
) -> None:
    other = await make_owner(session, settings)
    await _create(client, other, full_name="Ana Núñez")
    await _create(client, owner, full_name="Luis Núñez")
    assert await _names(client, owner, "nunez") == {"Luis Núñez"}
    assert await _names(client, other, "NÚÑEZ") == {"Ana Núñez"}
    found = (await client.get("/api/v1/patients?q=ana", headers=owner.headers)).json()
    assert found["total"] == 0


async def explain_search(session: AsyncSession, auth: Authenticated, q: str) -> str:
    """EXPLAIN of the search's own statement (bound parameters, as the API sends it), with
    sequential scans priced out: only an index whose expression matches can replace them."""
    statement = search_statement(auth, q)
    compiled = statement.compile(dialect=session.get_bind().dialect)
    connection = await session.connection()
    await connection.exec_driver_sql("SET LOCAL enable_seqscan = off")
    rows = await connection.exec_driver_sql("EXPLAIN " + str(compiled), compiled.params)
    return "\n".join(row[0] for row in rows)


async def add_search_rows(session: AsyncSession, organization_id: uuid.UUID, n: int) -> None:
    """`n` patients in one practice (so its organization_id index is no shortcut), analysed."""
    await session.execute(
        text(
            "INSERT INTO patient (id, organization_id, full_name, email, phone, language, "
            "monitoring_consent, monitoring_status) SELECT gen_random_uuid(), :org, "
            "'Paciente ' || g || CASE WHEN g % 100 = 0 THEN ' Núñez' ELSE '' END, "
            "'p' || g || '@example.org', '+3469' || lpad(g::text, 7, '0'), 'es', false, 'none' "
            "FROM generate_series(1, :n) g"
        ),
        {"org": organization_id, "n": n},
    )
    await session.execute(text("ANALYZE patient"))


async def test_the_folded_search_can_use_its_trigram_indexes(
    session: AsyncSession, owner: Member
) -> None:
    await add_search_rows(session, owner.organization.id, 3000)
    auth = Authenticated(owner.user, owner.organization, uuid.uuid4())
    plan = await explain_search(session, auth, "nunez")
    assert "ix_patient_full_name_fold_trgm" in plan, plan
    assert "ix_patient_email_fold_trgm" in plan, plan
    assert "ix_patient_phone_trgm" in plan, plan
    patients, total = await search_patients(session, auth, q="NUÑEZ", page=1, page_size=20)
    assert total == 30 and all(p.full_name.endswith(" Núñez") for p in patients)
