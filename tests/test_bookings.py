"""Services and bookings: capacity, the day's agenda in the practice's timezone, tenancy."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from httpx import AsyncClient
from sqlalchemy.ext.asyncio import AsyncSession

from kura.config import Settings
from kura.users.models import Role
from tests.clock_support import local, offset, week_ahead, z
from tests.factories import Member, make_patient, make_staff

DAY = week_ahead()  # a Monday 7 to 13 days from the real today: see tests/clock_support.py


def _at(hour: int, minute: int = 0, *, day: int = 0) -> datetime:
    """A wall-clock time in Madrid, `day` days after DAY."""
    return local(DAY + timedelta(days=day), hour, minute)


async def _service(client: AsyncClient, member: Member, **extra: Any) -> dict[str, Any]:
    body = {"name": "Sesión individual", "duration_minutes": 60, "price_cents": 6000, **extra}
    response = await client.post("/api/v1/services", headers=member.headers, json=body)
    assert response.status_code == 201, response.text
    data: dict[str, Any] = response.json()
    return data


async def _book(client: AsyncClient, member: Member, **body: Any) -> Any:
    return await client.post("/api/v1/bookings", headers=member.headers, json=body)


async def test_book_within_capacity_and_409_beyond(
    client: AsyncClient, owner: Member, session: AsyncSession
) -> None:
    service = await _service(client, owner, capacity=2)
    patients = [await make_patient(session, owner.organization) for _ in range(3)]
    at = offset(_at(10))
    for patient in patients[:2]:
        ok = await _book(
            client, owner, patient_id=str(patient.id), service_id=service["id"], starts_at=at
        )
        assert ok.status_code == 201
        assert ok.json()["ends_at"].startswith(z(_at(11)).removesuffix("Z"))  # 11:00 local, UTC
        assert ok.json()["amount_cents"] == 6000 and ok.json()["status"] == "PENDING"
    full = await _book(
        client,
        owner,
        patient_id=str(patients[2].id),
        service_id=service["id"],
        starts_at=offset(_at(10, 30)),
    )
    assert full.status_code == 409
    later = await _book(
        client,
        owner,
        patient_id=str(patients[2].id),
        service_id=service["id"],
        starts_at=offset(_at(11)),
    )
    assert later.status_code == 201  # back-to-back is not an overlap


async def test_cancelled_bookings_free_their_place(
    client: AsyncClient, owner: Member, session: AsyncSession
) -> None:
    service = await _service(client, owner)
    a = await make_patient(session, owner.organization)
    b = await make_patient(session, owner.organization)
    at = offset(_at(9, day=1))
    first = (
        await _book(client, owner, patient_id=str(a.id), service_id=service["id"], starts_at=at)
    ).json()
    assert (
        await _book(client, owner, patient_id=str(b.id), service_id=service["id"], starts_at=at)
    ).status_code == 409
    await client.patch(
        f"/api/v1/bookings/{first['id']}", headers=owner.headers, json={"status": "CANCELLED"}
    )
    assert (
        await _book(client, owner, patient_id=str(b.id), service_id=service["id"], starts_at=at)
    ).status_code == 201


async def test_agenda_is_the_local_day(
    client: AsyncClient, owner: Member, session: AsyncSession
) -> None:
    service = await _service(client, owner, capacity=5)
    patient = await make_patient(session, owner.organization)
    # 23:00 in Madrid on one day and 00:30 on the next are both on the first day in UTC (22:00
    # and 23:30 in winter, 21:00 and 22:30 in summer): the agenda goes by the local day.
    first = DAY + timedelta(days=2)
    second = first + timedelta(days=1)
    late, early = local(first, 23), local(second, 0, 30)
    assert z(late)[:10] == z(early)[:10] == first.isoformat()
    for at in (offset(late), offset(early)):
        assert (
            await _book(
                client, owner, patient_id=str(patient.id), service_id=service["id"], starts_at=at
            )
        ).status_code == 201
    third = (await client.get(f"/api/v1/bookings?date={first}", headers=owner.headers)).json()
    fourth = (await client.get(f"/api/v1/bookings?date={second}", headers=owner.headers)).json()
    assert third["total"] == 1 and fourth["total"] == 1
    assert len(third["items"]) == 1 and len(fourth["items"]) == 1


async def test_bad_booking_input(
    client: AsyncClient, owner: Member, session: AsyncSession, settings: Settings
) -> None:
    service = await _service(client, owner)
    patient = await make_patient(session, owner.organization)
    naive = await _book(
        client,
        owner,
        patient_id=str(patient.id),
        service_id=service["id"],
        starts_at=_at(10).replace(tzinfo=None).isoformat(),
    )
    assert naive.status_code == 422  # a time without its zone is ambiguous
    bad_currency = await client.post(
        "/api/v1/services",
        headers=owner.headers,
        json={"name": "X", "duration_minutes": 30, "price_cents": 10, "currency": "euro"},
    )
    assert bad_currency.status_code == 422
    negative = await client.post(
        "/api/v1/services",
        headers=owner.headers,
        json={"name": "X", "duration_minutes": 30, "price_cents": -1},
    )
    assert negative.status_code == 422
    assistant = await make_staff(session, settings, owner.organization, Role.ASSISTANT)
    receptionist = await make_staff(session, settings, owner.organization, Role.THERAPIST)
    wrong_therapist = await _book(
        client,
        owner,
        patient_id=str(patient.id),
        service_id=service["id"],
        starts_at=offset(_at(10)),
        therapist_id=str(assistant.user.id),
    )
    assert wrong_therapist.status_code == 400
    ok = await _book(
        client,
        receptionist,
        patient_id=str(patient.id),
        service_id=service["id"],
        starts_at=offset(_at(10)),
        therapist_id=str(receptionist.user.id),
    )
    assert ok.status_code == 201
