"""Shared steps of the scheduling tests: an online service, a therapist's week, the queued
booking emails run by hand (no worker in these tests)."""

from __future__ import annotations

import uuid
from typing import Any

from httpx import AsyncClient
from sqlalchemy import text

from kura.bookings.emails import BookingEvent, send_booking_emails
from kura.config import Settings
from kura.db.engine import Database
from tests.factories import Member

PUBLIC = "/api/v1/public/booking"


async def online_service(client: AsyncClient, owner: Member, **extra: Any) -> dict[str, Any]:
    body = {
        "name": "Sesión individual",
        "duration_minutes": 60,
        "price_cents": 0,
        "bookable_online": True,
        **extra,
    }
    response = await client.post("/api/v1/services", headers=owner.headers, json=body)
    assert response.status_code == 201, response.text
    data: dict[str, Any] = response.json()
    return data


async def set_week(
    client: AsyncClient,
    member: Member,
    user_id: uuid.UUID,
    hours: list[tuple[int, str, str]],
) -> Any:
    body = {"hours": [{"weekday": d, "starts_at": s, "ends_at": e} for d, s, e in hours]}
    return await client.put(
        f"/api/v1/staff/{user_id}/availability/weekly", headers=member.headers, json=body
    )


def booking_body(service_id: str, starts_at: str, n: int = 1, **extra: Any) -> dict[str, Any]:
    return {
        "service_id": service_id,
        "starts_at": starts_at,
        "full_name": f"Paciente Web {n}",
        "email": f"web{n}@example.org",
        "consents": {"privacy": True},
        **extra,
    }


async def run_booking_emails(database: Database, settings: Settings) -> int:
    """The bodies of the queued booking email jobs; how many messages they sent."""
    async with database.sessionmaker() as session:
        rows = (
            await session.execute(
                text(
                    "SELECT args->>'booking_id', args->>'event', args->>'before' "
                    "FROM procrastinate_jobs "
                    "WHERE task_name = 'bookings:send_booking_email' AND status = 'todo' "
                    "ORDER BY id"
                )
            )
        ).all()
    sent = 0
    for booking_id, event, before in rows:
        sent += await send_booking_emails(
            database, settings, uuid.UUID(booking_id), BookingEvent(event), before=before or ""
        )
    return sent
