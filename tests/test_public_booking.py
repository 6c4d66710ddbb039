"""Public self-booking and manage links: services and slots of a practice by its slug, patient
matching that reveals nothing, holds for paid services, one booking out of 20 racing requests
(enforced by the database, also on PostgreSQL 15), cancel and move within the window."""

from __future__ import annotations

import asyncio
import email
import email.policy
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from alembic import command
from asgi_lifespan import LifespanManager
from httpx import ASGITransport, AsyncClient
from sqlalchemy import func, select, text
from sqlalchemy.engine import URL
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from kura.app import create_app
from kura.auth import throttle
from kura.bookings.holds import release_expired
from kura.bookings.models import Booking, BookingStatus, Service, WeeklyHours
from kura.bookings.public import BOOKINGS_PER_IP
from kura.config import Settings, load_settings
from kura.db.base import utcnow
from kura.db.engine import Database
from kura.db.migrate import alembic_config, upgrade_heads
from kura.db.urls import describe, libpq_conninfo
from kura.patients.models import Patient
from kura.users.models import Role
from tests.backup_support import create_from_template, drop
from tests.clock_support import (
    ZONE,
    local,
    local_date,
    minutes_until,
    monday_after,
    shown,
    week_ahead,
    z,
)
from tests.factories import Member, make_owner, make_patient, make_staff
from tests.scheduling_support import (
    PUBLIC,
    booking_body,
    online_service,
    run_booking_emails,
    set_week,
)
from tests.test_backup_pg15 import pg15_server  # noqa: F401 - the PostgreSQL 15 fixture

WEEK = week_ahead()  # a Monday 7 to 13 days from the real today: see tests/clock_support.py
MONDAY = WEEK.isoformat()


def _at(hour: int, minute: int = 0, *, day: int = 0) -> datetime:
    """A wall-clock time in Madrid, `day` days after WEEK's Monday."""
    return local(WEEK + timedelta(days=day), hour, minute)


TEN = z(_at(10))  # 10:00 in Madrid, in UTC (09:00Z in winter, 08:00Z in summer)


@pytest.fixture(autouse=True)
def _empty_outbox(settings: Settings) -> None:
    """The outbox directory is the session's: start each test without earlier mail."""
    for path in (settings.kura_data_dir / "outbox" / "email").glob("*.eml"):
        path.unlink()


def _outbox(settings: Settings) -> list[email.message.EmailMessage]:
    return [
        email.message_from_bytes(p.read_bytes(), policy=email.policy.default)
        for p in sorted((settings.kura_data_dir / "outbox" / "email").glob("*.eml"))
    ]


def _body(message: email.message.EmailMessage) -> str:
    text = message.get_body(preferencelist=("plain",))  # beside the .ics, when it has one
    assert text is not None
    return str(text.get_content())


async def _open_practice(client: AsyncClient, owner: Member, **service: object) -> dict[str, Any]:
    data = await online_service(client, owner, **service)
    response = await set_week(client, owner, owner.user.id, [(0, "09:00", "13:00")])
    assert response.status_code == 200
    return data


async def test_services_and_slots_by_slug_with_bounded_ranges(
    client: AsyncClient, owner: Member
) -> None:
    service = await _open_practice(client, owner)
    staff_only = await client.post(
        "/api/v1/services",
        headers=owner.headers,
        json={"name": "Solo en consulta", "duration_minutes": 30, "price_cents": 0},
    )
    assert staff_only.status_code == 201
    slug = owner.organization.slug
    assert slug and slug.startswith("practice-")  # from the name, made at creation
    listed = await client.get(f"{PUBLIC}/{slug}/services")
    assert listed.status_code == 200
    assert [s["name"] for s in listed.json()["services"]] == ["Sesión individual"]
    assert listed.json()["practice"] == {
        "name": owner.organization.name,
        "slug": slug,
        "timezone": "Europe/Madrid",
    }
    assert (await client.get(f"{PUBLIC}/no-such-practice/services")).status_code == 404
    slots = await client.get(
        f"{PUBLIC}/{slug}/slots", params={"service_id": service["id"], "from": MONDAY}
    )
    assert slots.status_code == 200
    body = slots.json()
    assert body["to_date"] == (WEEK + timedelta(days=6)).isoformat() and len(body["slots"]) == 4
    assert body["slots"][0] == {
        "starts_at": z(_at(9)),
        "ends_at": z(_at(10)),
        "therapist_id": str(owner.user.id),
        "therapist_name": owner.user.full_name,
    }
    first = WEEK - timedelta(days=6)
    too_long = await client.get(
        f"{PUBLIC}/{slug}/slots",
        params={
            "service_id": service["id"],
            "from": first.isoformat(),
            "to": (first + timedelta(days=31)).isoformat(),  # 32 days
        },
    )
    assert too_long.status_code == 400 and "31 days" in too_long.json()["detail"]
    month = await client.get(
        f"{PUBLIC}/{slug}/slots",
        params={
            "service_id": service["id"],
            "from": first.isoformat(),
            "to": (first + timedelta(days=30)).isoformat(),  # 31 days
        },
    )
    assert month.status_code == 200
    assert (await client.get(f"{PUBLIC}/{slug}/slots")).status_code == 400  # no service_id
    backwards = await client.get(
        f"{PUBLIC}/{slug}/slots",
        params={
            "service_id": service["id"],
            "from": (WEEK + timedelta(days=2)).isoformat(),
            "to": (WEEK + timedelta(days=1)).isoformat(),
        },
    )
    assert backwards.status_code == 400
    hidden = await client.get(
        f"{PUBLIC}/{slug}/slots", params={"service_id": staff_only.json()["id"]}
    )
    assert hidden.status_code == 404


async def test_free_booking_is_confirmed_and_matches_patients_without_saying_so(
    client: AsyncClient,
    owner: Member,
    session: AsyncSession,
    settings: Settings,
    database: Database,
) -> None:
    service = await _open_practice(client, owner)
    known = await make_patient(session, owner.organization, email="Ana@Example.org")
    deleted = await make_patient(
        session, owner.organization, email="borrada@example.org", restricted_at=utcnow()
    )
    slug = owner.organization.slug
    existing = await client.post(
        f"{PUBLIC}/{slug}/bookings",
        json=booking_body(str(service["id"]), TEN, email="ana@example.org", phone="+34600111222"),
    )
    new = await client.post(
        f"{PUBLIC}/{slug}/bookings",
        json=booking_body(
            str(service["id"]),
            z(_at(11)),
            email="borrada@example.org",
            phone=deleted.phone,
        ),
    )
    assert existing.status_code == new.status_code == 201, (existing.text, new.text)
    for answer in (existing.json(), new.json()):
        assert answer["status"] == "CONFIRMED" and answer["hold_expires_at"] is None
        assert set(answer) == {
            "status",
            "starts_at",
            "ends_at",
            "hold_expires_at",
            "service",
            "practice",
            "changes_allowed_until",
            "payment_due",
            "manage_token",
        }
        assert len(answer["manage_token"]) == 43
    rows = (
        await session.execute(
            select(Booking.patient_id, Booking.source, Booking.manage_token_hash).order_by(
                Booking.starts_at
            )
        )
    ).all()
    assert rows[0].patient_id == known.id  # matched by email, case aside
    assert rows[1].patient_id not in {known.id, deleted.id}  # a restricted record is never used
    assert all(r.source == "public" and r.manage_token_hash for r in rows)
    assert existing.json()["manage_token"] not in {r.manage_token_hash for r in rows}
    fresh = await session.get_one(Patient, rows[1].patient_id)
    assert fresh.phone is None and fresh.email == "borrada@example.org"
    await session.refresh(known)
    assert known.full_name != "Paciente Web 1" and known.phone != "+34600111222"  # untouched

    assert await run_booking_emails(database, settings) == 4
    mails = _outbox(settings)
    to_patient = next(m for m in mails if m["To"] == known.email)
    assert "confirmada" in _body(to_patient) and "pagada" not in _body(to_patient)
    assert f"/book/manage/{existing.json()['manage_token']}" in _body(to_patient)
    to_staff = [m for m in mails if m["To"] == owner.user.email]
    assert len(to_staff) == 2 and all("Ana" not in _body(m) for m in to_staff)


async def test_booking_needs_privacy_consent_and_an_offered_slot(
    client: AsyncClient, owner: Member
) -> None:
    service = await _open_practice(client, owner)
    slug = owner.organization.slug
    refused = await client.post(
        f"{PUBLIC}/{slug}/bookings",
        json=booking_body(str(service["id"]), TEN, consents={"privacy": False}),
    )
    assert refused.status_code == 422
    off_grid = await client.post(
        f"{PUBLIC}/{slug}/bookings", json=booking_body(str(service["id"]), z(_at(10, 10)))
    )
    assert off_grid.status_code == 409
    # 10:00 on a Monday 7 to 13 days before the app's now: on the grid, within the hours, past.
    last_week = monday_after(local_date(utcnow()), -13)
    past = await client.post(
        f"{PUBLIC}/{slug}/bookings",
        json=booking_body(str(service["id"]), z(local(last_week, 10))),
    )
    assert past.status_code == 409


async def test_a_paid_booking_is_held_then_released(
    client: AsyncClient,
    owner: Member,
    session: AsyncSession,
    settings: Settings,
    database: Database,
) -> None:
    service = await _open_practice(client, owner, price_cents=6000)
    slug = owner.organization.slug
    before = utcnow()
    held = await client.post(
        f"{PUBLIC}/{slug}/bookings", json=booking_body(str(service["id"]), TEN)
    )
    assert held.status_code == 201 and held.json()["status"] == "PENDING"
    hold = datetime.fromisoformat(held.json()["hold_expires_at"])
    assert timedelta(minutes=14) < hold - before < timedelta(minutes=16)
    slots = {"service_id": service["id"], "from": MONDAY, "to": MONDAY}
    free = [
        s["starts_at"]
        for s in (await client.get(f"{PUBLIC}/{slug}/slots", params=slots)).json()["slots"]
    ]
    assert TEN not in free
    await run_booking_emails(database, settings)
    (mail,) = [m for m in _outbox(settings) if m["To"] == "web1@example.org"]
    assert "pago" in _body(mail) and "pagada" not in _body(mail)

    # The periodic job (its body), after the hold: the booking is cancelled, the time is free.
    released = await release_expired(session, now=hold + timedelta(seconds=1))
    assert len(released) == 1
    booking = await session.get_one(Booking, released[0])
    await session.refresh(booking)
    assert booking.status == BookingStatus.CANCELLED and booking.cancelled_at is not None
    free = [
        s["starts_at"]
        for s in (await client.get(f"{PUBLIC}/{slug}/slots", params=slots)).json()["slots"]
    ]
    assert TEN in free
    assert await release_expired(session, now=hold + timedelta(seconds=2)) == []  # idempotent


async def test_an_expired_hold_does_not_block_the_next_patient(
    client: AsyncClient, owner: Member, session: AsyncSession
) -> None:
    service = await _open_practice(client, owner, price_cents=6000)
    slug = owner.organization.slug
    first = await client.post(
        f"{PUBLIC}/{slug}/bookings", json=booking_body(str(service["id"]), TEN)
    )
    assert first.status_code == 201
    await session.execute(text("UPDATE booking SET hold_expires_at = now() - interval '1 minute'"))
    second = await client.post(
        f"{PUBLIC}/{slug}/bookings", json=booking_body(str(service["id"]), TEN, n=2)
    )
    assert second.status_code == 201, second.text  # released inline, before the job runs
    statuses = (await session.scalars(select(Booking.status).order_by(Booking.created_at))).all()
    assert sorted(statuses) == [BookingStatus.CANCELLED, BookingStatus.PENDING]


async def test_public_booking_is_rate_limited_per_ip(
    client: AsyncClient, owner: Member, session: AsyncSession
) -> None:
    service = await _open_practice(client, owner)
    for _ in range(BOOKINGS_PER_IP.max_failures):
        await throttle.record_failure(session, BOOKINGS_PER_IP, "127.0.0.1", now=utcnow())
    limited = await client.post(
        f"{PUBLIC}/{owner.organization.slug}/bookings", json=booking_body(str(service["id"]), TEN)
    )
    assert limited.status_code == 429 and int(limited.headers["Retry-After"]) > 0
    assert (await session.scalar(select(func.count()).select_from(Booking))) == 0


async def test_manage_link_views_cancels_and_moves_within_the_window(
    client: AsyncClient,
    owner: Member,
    session: AsyncSession,
    settings: Settings,
    database: Database,
) -> None:
    service = await _open_practice(client, owner)
    slug = owner.organization.slug
    token = (
        await client.post(f"{PUBLIC}/{slug}/bookings", json=booking_body(str(service["id"]), TEN))
    ).json()["manage_token"]
    view = await client.get(f"{PUBLIC}/manage/{token}")
    assert view.status_code == 200
    assert view.json()["service"]["name"] == "Sesión individual"
    assert (
        "Paciente" not in view.text
        and "web1@" not in view.text
        and 'manage_token": "' not in view.text
    )
    assert (await client.get(f"{PUBLIC}/manage/{'x' * 43}")).status_code == 404

    moved = await client.post(f"{PUBLIC}/manage/{token}/reschedule", json={"starts_at": z(_at(12))})
    assert moved.status_code == 200, moved.text
    assert moved.json()["starts_at"] == z(_at(12))
    taken_back = await client.post(
        f"{PUBLIC}/{slug}/bookings", json=booking_body(str(service["id"]), TEN, n=2)
    )
    assert taken_back.status_code == 201  # the old time is free again
    onto_it = await client.post(f"{PUBLIC}/manage/{token}/reschedule", json={"starts_at": TEN})
    assert onto_it.status_code == 409

    cancelled = await client.post(f"{PUBLIC}/manage/{token}/cancel")
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "CANCELLED"
    again = await client.post(f"{PUBLIC}/manage/{token}/cancel")
    assert again.status_code == 409
    actions = (
        await session.scalars(
            text("SELECT action FROM audit_event WHERE action LIKE 'booking.%' ORDER BY id")
        )
    ).all()
    assert "booking.rescheduled_by_link" in actions and "booking.cancelled_by_link" in actions

    await run_booking_emails(database, settings)
    staff = [_body(m) for m in _outbox(settings) if m["To"] == owner.user.email]
    assert any("movido" in b and shown(_at(10)) in b and "12:00" in b for b in staff)
    assert any("cancelado" in b for b in staff)


async def test_changes_outside_the_cancellation_window_are_409_with_the_deadline(
    client: AsyncClient, owner: Member
) -> None:
    # A window reaching back over a day before now: the booking is ahead, its deadline past.
    window_hours = minutes_until(_at(10)) // 60 + 25
    deadline = _at(10) - timedelta(hours=window_hours)
    service = await _open_practice(client, owner, cancellation_window_hours=window_hours)
    token = (
        await client.post(
            f"{PUBLIC}/{owner.organization.slug}/bookings",
            json=booking_body(str(service["id"]), TEN),
        )
    ).json()["manage_token"]
    late = await client.post(f"{PUBLIC}/manage/{token}/cancel")
    assert late.status_code == 409
    assert f"until {shown(deadline)} ({ZONE})" in late.json()["detail"]
    also_late = await client.post(
        f"{PUBLIC}/manage/{token}/reschedule", json={"starts_at": z(_at(12))}
    )
    assert also_late.status_code == 409


async def test_staff_bookings_get_a_manage_link_and_an_honest_email(
    client: AsyncClient,
    owner: Member,
    session: AsyncSession,
    settings: Settings,
    database: Database,
) -> None:
    service = await online_service(client, owner, price_cents=6000)
    patient = await make_patient(session, owner.organization, email="staff@example.org")
    created = await client.post(
        "/api/v1/bookings",
        headers=owner.headers,
        json={"patient_id": str(patient.id), "service_id": service["id"], "starts_at": TEN},
    )
    assert created.status_code == 201 and created.json()["source"] == "staff"
    assert await run_booking_emails(database, settings) == 1  # the patient only
    (mail,) = _outbox(settings)
    assert "pendiente de pago" in _body(mail) and "/book/manage/" in _body(mail)
    free = await online_service(client, owner, name="Primera visita")
    await session.execute(text("UPDATE procrastinate_jobs SET status = 'succeeded'"))  # sent
    second = await client.post(
        "/api/v1/bookings",
        headers=owner.headers,
        json={
            "patient_id": str(patient.id),
            "service_id": free["id"],
            "starts_at": z(_at(10, day=1)),
        },
    )
    assert second.status_code == 201
    assert await run_booking_emails(database, settings) == 1
    newest = [_body(m) for m in _outbox(settings) if "Primera visita" in _body(m)]
    assert len(newest) == 1 and "pago" not in newest[0] and "pagada" not in newest[0]


async def test_the_owner_chooses_the_slug(
    client: AsyncClient, owner: Member, session: AsyncSession, settings: Settings
) -> None:
    other = await make_owner(session, settings)
    therapist = await make_staff(session, settings, owner.organization, Role.THERAPIST)
    page = "/api/v1/practice/booking-page"
    for bad in ("Mi-Consulta", "a", "-x-", "con espacio", "manage"):
        assert (
            await client.put(page, headers=owner.headers, json={"slug": bad})
        ).status_code == 422
    taken = await client.put(page, headers=owner.headers, json={"slug": other.organization.slug})
    assert taken.status_code == 409
    assert (
        await client.put(page, headers=therapist.headers, json={"slug": "consulta-ana"})
    ).status_code == 403
    chosen = await client.put(page, headers=owner.headers, json={"slug": "consulta-ana"})
    assert chosen.status_code == 200 and chosen.json()["slug"] == "consulta-ana"
    assert chosen.json()["services_url"].endswith("/api/v1/public/booking/consulta-ana/services")
    assert (await client.get(f"{PUBLIC}/consulta-ana/services")).status_code == 200
    read = await client.get(page, headers=therapist.headers)
    assert read.json()["slug"] == "consulta-ana"


async def _assert_the_database_refuses_an_overlap(session: AsyncSession, owner: Member) -> None:
    service = Service(
        organization_id=owner.organization.id,
        name="S",
        duration_minutes=60,
        price_cents=0,
        currency="eur",
        capacity=1,
    )
    session.add(service)
    patient = await make_patient(session, owner.organization)
    await session.flush()
    # A fixed date on purpose: rows inserted directly, nothing on this path reads a clock.
    start = datetime(2026, 12, 7, 9, tzinfo=UTC)

    def booking(offset: int, **extra: object) -> Booking:
        return Booking(
            organization_id=owner.organization.id,
            patient_id=patient.id,
            service_id=service.id,
            therapist_id=owner.user.id,
            starts_at=start + timedelta(minutes=offset),
            ends_at=start + timedelta(minutes=offset + 60),
            amount_cents=0,
            currency="eur",
            **extra,
        )

    session.add(booking(0))
    await session.flush()
    session.add(booking(60))  # back to back: [) ranges do not overlap
    session.add(booking(30, status=BookingStatus.CANCELLED))  # not active
    await session.flush()
    with pytest.raises(IntegrityError) as refused:
        async with session.begin_nested():
            session.add(booking(30, blocked_until=None))
            await session.flush()
    assert getattr(refused.value.orig, "sqlstate", None) == "23P01"
    with pytest.raises(IntegrityError):  # a buffer reaching into the next booking
        async with session.begin_nested():
            session.add(booking(-90, blocked_until=start + timedelta(minutes=5)))
            await session.flush()


async def test_the_database_refuses_overlapping_bookings_of_a_therapist(
    owner: Member, session: AsyncSession
) -> None:
    await _assert_the_database_refuses_an_overlap(session, owner)


@dataclass
class Race:
    client: AsyncClient
    database: Database
    slug: str
    service_id: str


@pytest.fixture
async def race(db_url: URL, template_db: str, tmp_path: Path) -> AsyncIterator[Race]:
    """A committed database of its own: each racing request gets its own connection."""
    url = create_from_template(db_url, "kura_sched_race", template_db)
    settings = load_settings(
        environment="test",
        database_url=describe(url, show_password=True),
        kura_data_dir=tmp_path,
        kura_run_worker=False,
        secret_key="scheduling-race-signing-key-0123456789",
    )
    database = Database.connect(url, pool_size=25, max_overflow=25)
    try:
        async with database.sessionmaker() as session, session.begin():
            owner = await make_owner(session, settings)
            service = Service(
                organization_id=owner.organization.id,
                name="S",
                duration_minutes=60,
                price_cents=0,
                currency="eur",
                capacity=1,
                bookable_online=True,
            )
            session.add(service)
            session.add(
                WeeklyHours(
                    organization_id=owner.organization.id,
                    therapist_id=owner.user.id,
                    weekday=0,
                    starts_at=datetime(2026, 1, 1, 9).time(),
                    ends_at=datetime(2026, 1, 1, 13).time(),
                )
            )
            await session.flush()
            slug, service_id = owner.organization.slug, str(service.id)
        assert slug is not None
        app = create_app(settings, database=database)
        async with (
            LifespanManager(app) as manager,
            AsyncClient(transport=ASGITransport(manager.app), base_url="http://test") as client,
        ):
            yield Race(client, database, slug, service_id)
    finally:
        await database.dispose()
        drop(url)


async def test_twenty_parallel_requests_for_one_slot_make_one_booking(race: Race) -> None:
    async def attempt(n: int) -> int:
        response = await race.client.post(
            f"{PUBLIC}/{race.slug}/bookings", json=booking_body(race.service_id, TEN, n=n)
        )
        assert response.status_code in (201, 409), response.text
        return response.status_code

    statuses = await asyncio.gather(*(attempt(n) for n in range(20)))
    assert sorted(statuses) == [201] + [409] * 19
    async with race.database.sessionmaker() as session:
        assert await session.scalar(select(func.count()).select_from(Booking)) == 1
        # The refused requests left nothing behind: no stray patients either.
        assert await session.scalar(select(func.count()).select_from(Patient)) == 1


async def test_the_scheduling_migration_on_postgresql_15_as_a_non_superuser(
    pg15_server: URL,  # noqa: F811 - the fixture imported above
    tmp_path: Path,
) -> None:
    """Cloud SQL's migration user is not a superuser: btree_gist (like pg_trgm and unaccent)
    must be a trusted extension the database owner may create, and the constraint must hold
    on 15; the downgrade works there too."""
    admin = libpq_conninfo(pg15_server.set(database="postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute("DROP DATABASE IF EXISTS kura_sched15")
        conn.execute("DROP ROLE IF EXISTS kura_migrator")
        conn.execute("CREATE ROLE kura_migrator LOGIN NOSUPERUSER")
        conn.execute("CREATE DATABASE kura_sched15 OWNER kura_migrator")
    url = pg15_server.set(database="kura_sched15", username="kura_migrator")
    try:
        upgrade_heads(url)
        with psycopg.connect(libpq_conninfo(url)) as conn:
            row = conn.execute(
                "SELECT rolsuper, current_setting('server_version_num') FROM pg_roles "
                "WHERE rolname = current_user"
            ).fetchone()
            assert row is not None and row[0] is False and row[1].startswith("15")
        settings = load_settings(
            environment="test",
            database_url=describe(url, show_password=True),
            kura_data_dir=tmp_path,
            kura_run_worker=False,
            secret_key="scheduling-pg15-signing-key-0123456789",
        )
        database = Database.connect(url)
        try:
            async with database.sessionmaker() as session:
                owner = await make_owner(session, settings)
                await _assert_the_database_refuses_an_overlap(session, owner)
                await session.rollback()
        finally:
            await database.dispose()
        command.downgrade(alembic_config(url), "0016_exports")
        upgrade_heads(url)
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute("DROP DATABASE IF EXISTS kura_sched15 WITH (FORCE)")
            conn.execute("DROP ROLE IF EXISTS kura_migrator")
