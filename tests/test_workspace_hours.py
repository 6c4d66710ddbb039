"""Opening hours and time off from the workspace: the week saved as typed (in the practice's
time zone), overlapping ranges refused, whole days off added and removed, a one-off opening
offered by online booking, and who may."""

from __future__ import annotations

from datetime import UTC, timedelta

from httpx import AsyncClient
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kura.bookings.models import AvailabilityException, WeeklyHours
from kura.briefings.content import local_today
from kura.config import Settings
from kura.db.base import utcnow
from kura.users.models import Role
from tests.clock_support import local, week_ahead, z
from tests.factories import Member, make_staff
from tests.scheduling_support import PUBLIC, online_service
from tests.workspace_support import hidden, sign_in

HOURS = "/app/settings/hours"


async def test_a_therapist_sets_their_week_and_a_holiday(
    client: AsyncClient, owner: Member, session: AsyncSession, settings: Settings
) -> None:
    therapist = await make_staff(session, settings, owner.organization, Role.THERAPIST)
    await session.commit()
    await sign_in(client, therapist.user.email)
    page = await client.get(HOURS)
    assert page.status_code == 200 and therapist.user.full_name in page.text
    csrf = hidden(page.text, "csrf_token")
    week = f"{HOURS}/{therapist.user.id}/weekly"
    overlap = await client.post(
        week,
        data={
            "csrf_token": csrf,
            "d0s0": "09:00",
            "d0e0": "14:00",
            "d0s1": "13:00",
            "d0e1": "18:00",
        },
    )
    assert overlap.status_code == 422 and "no pueden solaparse" in overlap.text
    saved = await client.post(
        week,
        data={
            "csrf_token": csrf,
            "d0s0": "09:00",
            "d0e0": "14:00",
            "d0s1": "16:00",
            "d0e1": "19:30",
            "d4s0": "10:00",
            "d4e0": "13:00",
        },
    )
    assert saved.status_code == 303 and saved.headers["location"] == HOURS
    rows = await session.execute(
        select(WeeklyHours.weekday, WeeklyHours.starts_at, WeeklyHours.ends_at)
        .where(WeeklyHours.therapist_id == therapist.user.id)
        .order_by(WeeklyHours.weekday, WeeklyHours.starts_at)
    )
    assert [(d, f"{s:%H:%M}", f"{e:%H:%M}") for d, s, e in rows] == [
        (0, "09:00", "14:00"),
        (0, "16:00", "19:30"),
        (4, "10:00", "13:00"),
    ]
    assert 'value="19:30"' in (await client.get(HOURS)).text

    first = local_today(owner.organization.timezone, utcnow()) + timedelta(days=10)
    added = await client.post(
        f"{HOURS}/{therapist.user.id}/time-off",
        data={
            "csrf_token": csrf,
            "first": first.isoformat(),
            "last": (first + timedelta(days=2)).isoformat(),
            "note": "Congreso",
        },
    )
    assert added.status_code == 303
    entry = await session.scalar(
        select(AvailabilityException).where(AvailabilityException.therapist_id == therapist.user.id)
    )
    assert entry is not None and entry.ends_at - entry.starts_at == timedelta(days=3)
    # Local midnight in Madrid is 22:00 or 23:00 UTC the day before.
    assert entry.starts_at.astimezone(UTC).hour in (22, 23)
    listed = await client.get(HOURS)
    assert f"{first.isoformat()} → {(first + timedelta(days=2)).isoformat()}" in listed.text
    assert "Congreso" in listed.text
    removed = await client.post(
        f"{HOURS}/{therapist.user.id}/time-off/{entry.id}/remove", data={"csrf_token": csrf}
    )
    assert removed.status_code == 303
    assert "No hay ausencias próximas." in (await client.get(HOURS)).text


async def test_only_the_owner_edits_someone_elses_hours(
    client: AsyncClient, owner: Member, session: AsyncSession, settings: Settings
) -> None:
    therapist = await make_staff(session, settings, owner.organization, Role.THERAPIST)
    colleague = await make_staff(session, settings, owner.organization, Role.THERAPIST)
    assistant = await make_staff(session, settings, owner.organization, Role.ASSISTANT)
    await session.commit()
    await sign_in(client, therapist.user.email)
    csrf = hidden((await client.get(HOURS)).text, "csrf_token")
    theirs = await client.get(HOURS, params={"therapist": str(colleague.user.id)})
    assert colleague.user.full_name not in theirs.text  # a therapist sees their own
    refused = await client.post(
        f"{HOURS}/{colleague.user.id}/weekly",
        data={"csrf_token": csrf, "d0s0": "09:00", "d0e0": "10:00"},
    )
    assert refused.status_code == 403

    client.cookies.clear()
    await sign_in(client, owner.user.email)
    csrf = hidden((await client.get(HOURS)).text, "csrf_token")
    page = await client.get(HOURS, params={"therapist": str(colleague.user.id)})
    assert f"Horario: {colleague.user.full_name}" in page.text
    done = await client.post(
        f"{HOURS}/{colleague.user.id}/weekly",
        data={"csrf_token": csrf, "d2s0": "08:00", "d2e0": "12:00"},
    )
    assert done.status_code == 303 and done.headers["location"].endswith(str(colleague.user.id))

    client.cookies.clear()
    await sign_in(client, assistant.user.email)
    assert (await client.get(HOURS)).status_code == 403


async def test_a_one_off_saturday_opening_is_offered_online_then_removed(
    client: AsyncClient, owner: Member, session: AsyncSession
) -> None:
    await session.commit()
    service = await online_service(client, owner)
    saturday = week_ahead() + timedelta(days=5)  # no weekly hours on it
    slots = {"service_id": service["id"], "from": saturday.isoformat(), "to": saturday.isoformat()}
    slug = owner.organization.slug

    async def offered() -> list[str]:
        answer = await client.get(f"{PUBLIC}/{slug}/slots", params=slots)
        assert answer.status_code == 200, answer.text
        return [slot["starts_at"] for slot in answer.json()["slots"]]

    assert await offered() == []
    await sign_in(client, owner.user.email)
    page = await client.get(HOURS)
    assert "No hay horas sueltas próximas." in page.text
    csrf = hidden(page.text, "csrf_token")
    openings = f"{HOURS}/{owner.user.id}/openings"
    backwards = {"csrf_token": csrf, "day": saturday.isoformat(), "from": "12:00", "to": "10:00"}
    refused = await client.post(openings, data=backwards)
    assert refused.status_code == 422 and "el final debe ser después del inicio" in refused.text
    opened = await client.post(
        openings,
        data={"csrf_token": csrf, "day": saturday.isoformat(), "from": "10:00", "to": "12:00"},
    )
    assert opened.status_code == 303
    # Typed in the practice's zone: 10:00 and 11:00 in Madrid, whatever the season.
    assert await offered() == [z(local(saturday, 10)), z(local(saturday, 11))]
    listed = await client.get(HOURS)
    assert f"{saturday.isoformat()} 10:00 → 12:00" in listed.text
    entry = await session.scalar(
        select(AvailabilityException).where(AvailabilityException.therapist_id == owner.user.id)
    )
    assert entry is not None
    wrong_kind = await client.post(
        f"{HOURS}/{owner.user.id}/holidays/{entry.id}/remove", data={"csrf_token": csrf}
    )
    assert wrong_kind.status_code == 404
    removed = await client.post(
        f"{HOURS}/{owner.user.id}/openings/{entry.id}/remove", data={"csrf_token": csrf}
    )
    assert removed.status_code == 303 and await offered() == []
