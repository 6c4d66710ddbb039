"""The agenda in the workspace: a patient booked from their chart (in the practice's time zone,
across a DST change too), the week view, a clinician never double-booked, a booking moved and
cancelled (each audited), nothing of another practice."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

from httpx import AsyncClient
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from kura.audit.models import AuditEvent
from kura.bookings.models import Booking, BookingStatus, Service
from kura.briefings.content import local_today
from kura.config import Settings
from kura.db.base import utcnow
from kura.users.models import Role
from tests.factories import Member, make_owner, make_patient, make_staff
from tests.workspace_support import hidden, sign_in


async def _service(session: AsyncSession, owner: Member) -> Service:
    service = Service(
        organization_id=owner.organization.id,
        name="Sesión individual",
        duration_minutes=50,
        price_cents=0,
    )
    session.add(service)
    await session.flush()
    return service


def _last_sunday_of_march_ahead(today: date) -> date:
    """Spain moves its clocks forward on the last Sunday of March (02:00 becomes 03:00)."""
    year = today.year if today < date(today.year, 3, 25) else today.year + 1
    day = date(year, 3, 31)
    return day - timedelta(days=(day.weekday() + 1) % 7)


async def test_book_from_the_chart_see_the_week_move_and_cancel(
    client: AsyncClient, owner: Member, session: AsyncSession
) -> None:
    service = await _service(session, owner)
    patient = await make_patient(session, owner.organization, full_name="Jorge Peña")
    other = await make_patient(session, owner.organization, full_name="Sara Gil")
    await session.commit()
    await sign_in(client, owner.user.email)
    chart = await client.get(f"/app/patients/{patient.id}")
    csrf = hidden(chart.text, "csrf_token")
    assert "Reservar una sesión" in chart.text and "Sesión individual" in chart.text
    day = local_today(owner.organization.timezone, utcnow()) + timedelta(days=7)
    form = {
        "csrf_token": csrf,
        "service_id": str(service.id),
        "therapist_id": str(owner.user.id),
        "date": day.isoformat(),
        "time": "10:00",
    }
    booked = await client.post(f"/app/patients/{patient.id}/bookings", data=form)
    assert booked.status_code == 303, booked.text
    booking_path = booked.headers["location"]
    page = await client.get(booking_path)
    assert page.status_code == 200 and "Jorge Peña" in page.text and "10:00" in page.text

    busy = await client.post(f"/app/patients/{other.id}/bookings", data=form)
    assert busy.status_code == 409  # the same clinician at the same time
    count = await session.scalar(
        select(func.count())
        .select_from(Booking)
        .where(Booking.organization_id == owner.organization.id)
    )
    assert count == 1
    bad = await client.post(f"/app/patients/{patient.id}/bookings", data={**form, "time": "25:00"})
    assert bad.status_code == 422

    week = await client.get("/app/agenda", params={"week": day.isoformat()})
    assert week.status_code == 200
    assert "Jorge Peña" in week.text and booking_path in week.text
    everyone = await client.get("/app/agenda", params={"week": day.isoformat(), "therapist": "x"})
    assert "Jorge Peña" in everyone.text  # an unknown choice falls back to yourself

    moved = await client.post(
        f"{booking_path}/move", data={"csrf_token": csrf, "date": day.isoformat(), "time": "11:30"}
    )
    assert moved.status_code == 303
    assert "11:30" in (await client.get(booking_path)).text
    cancelled = await client.post(f"{booking_path}/cancel", data={"csrf_token": csrf})
    assert cancelled.status_code == 303
    assert "Cancelada" in (await client.get(booking_path)).text
    booking_id = booking_path.rsplit("/", 1)[1]
    stored = await session.get_one(Booking, booking_id)
    await session.refresh(stored)
    assert stored.status == BookingStatus.CANCELLED
    actions = list(
        await session.scalars(select(AuditEvent.action).where(AuditEvent.target_id == booking_id))
    )
    assert actions.count("booking.created") == 1 and actions.count("booking.updated") == 2
    queued = await session.scalar(
        text(
            "SELECT count(*) FROM procrastinate_jobs WHERE task_name LIKE '%booking_email%' "
            "AND args->>'booking_id' = :id"
        ),
        {"id": booking_id},
    )
    assert queued == 1  # the patient's confirmation


async def test_a_time_typed_on_the_day_clocks_change_is_the_practices_local_time(
    client: AsyncClient, owner: Member, session: AsyncSession
) -> None:
    service = await _service(session, owner)
    patient = await make_patient(session, owner.organization)
    await session.commit()
    await sign_in(client, owner.user.email)
    csrf = hidden((await client.get(f"/app/patients/{patient.id}")).text, "csrf_token")
    day = _last_sunday_of_march_ahead(local_today(owner.organization.timezone, utcnow()))
    booked = await client.post(
        f"/app/patients/{patient.id}/bookings",
        data={
            "csrf_token": csrf,
            "service_id": str(service.id),
            "therapist_id": str(owner.user.id),
            "date": day.isoformat(),
            "time": "10:00",
        },
    )
    assert booked.status_code == 303
    booking = await session.get_one(Booking, booked.headers["location"].rsplit("/", 1)[1])
    # Madrid is UTC+2 from 03:00 that day: 10:00 local is 08:00 UTC (not 09:00).
    assert booking.starts_at.astimezone(UTC) == datetime(day.year, 3, day.day, 8, 0, tzinfo=UTC)
    assert "10:00" in (await client.get(booked.headers["location"])).text


async def test_an_assistant_books_and_another_practice_sees_nothing(
    client: AsyncClient, owner: Member, session: AsyncSession, settings: Settings
) -> None:
    service = await _service(session, owner)
    patient = await make_patient(session, owner.organization, full_name="Lola Vega")
    assistant = await make_staff(session, settings, owner.organization, Role.ASSISTANT)
    stranger = await make_owner(session, settings)
    await session.commit()
    await sign_in(client, assistant.user.email)
    csrf = hidden((await client.get("/app/agenda")).text, "csrf_token")
    day = local_today(owner.organization.timezone, utcnow()) + timedelta(days=3)
    booked = await client.post(
        f"/app/patients/{patient.id}/bookings",
        data={
            "csrf_token": csrf,
            "service_id": str(service.id),
            "therapist_id": str(owner.user.id),
            "date": day.isoformat(),
            "time": "09:00",
        },
    )
    assert booked.status_code == 303, booked.text
    booking_path = booked.headers["location"]

    client.cookies.clear()
    await sign_in(client, stranger.user.email)
    csrf = hidden((await client.get("/app/agenda")).text, "csrf_token")
    assert (await client.get(booking_path)).status_code == 404
    for action in ("move", "cancel"):
        answer = await client.post(
            f"{booking_path}/{action}",
            data={"csrf_token": csrf, "date": day.isoformat(), "time": "12:00"},
        )
        assert answer.status_code == 404, action
    week = await client.get("/app/agenda", params={"week": day.isoformat(), "therapist": "all"})
    assert "Lola Vega" not in week.text
    assert not re.search(r"/app/bookings/[0-9a-f-]{36}", week.text)
