"""Data for bench/scheduling.py: practices, therapists with hours and time off, patients and
10,000 bookings (COPY), and the reminder practice whose bookings are all due."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock
from zoneinfo import ZoneInfo

import httpx
import psycopg
from sqlalchemy.engine import URL

from bench.accounts import confirm_email

BOOKINGS = 10_000
THERAPISTS = 20  # per slot practice: 500 bookings each, half of their hours over ~6 months
PATIENTS = 1_000
SAMPLES = int(os.environ.get("BENCH_SLOT_SAMPLES", "200"))
ANY_EVERY = 8  # the whole practice's month is asked every 8th round: it costs ~8x one's
WARMUP = 10
GOAL_MS = 50.0
DURATION, BUFFER = 50, 10  # minutes: a 50-minute session on an hourly grid
HOURS = (clock(9), clock(17))  # Monday to Friday, local time: 8 sessions a day
# Reminders: 50-minute sessions on the hour, from 2.5 h to 47.5 h ahead of the pass (46 each),
# so 218 therapists hold 10,000 due bookings without breaking the no-overlap constraint.
REMINDER_OFFSETS = [48, 24]  # BOOKING_REMINDER_HOURS' default
PER_THERAPIST_DUE = 46
WHATSAPP_EVERY = 10  # every 10th patient is enrolled in monitoring: a WhatsApp reminder too
RACE = 1_000  # bookings whose claims and jobs are cleared before two passes run at once
IPS = [f"198.51.100.{n}" for n in range(1, 33)]  # X-Forwarded-For, under READS_PER_IP each


def register_practice(base: str, email: str, name: str) -> tuple[str, dict[str, str]]:
    response = httpx.post(
        f"{base}/api/v1/auth/register",
        json={
            "email": email,
            "password": "long-load-test-secret-1",
            "full_name": name,
            "org_name": name,
        },
    )
    response.raise_for_status()
    registered = response.json()
    return registered["organization"]["id"], {
        "Authorization": f"Bearer {registered['access_token']}"
    }


def online_service(base: str, url: URL, email: str, headers: dict[str, str]) -> str:
    confirm_email(url, email)
    response = httpx.post(
        f"{base}/api/v1/services",
        headers=headers,
        json={
            "name": "Sesión individual",
            "duration_minutes": DURATION,
            "buffer_minutes": BUFFER,
            "price_cents": 6000,
            "bookable_online": True,
        },
    )
    response.raise_for_status()
    return str(response.json()["id"])


def insert_therapists(
    conn: psycopg.Connection, organization_id: str, tag: str, n: int
) -> list[str]:
    ids = [str(uuid.uuid4()) for _ in range(n)]
    with conn.cursor().copy(
        "COPY user_account (id, organization_id, email, full_name, role, is_active, "
        "is_superuser, session_version, email_verified_at, created_at, updated_at) FROM STDIN"
    ) as copy:
        now = datetime.now(UTC)
        for i, therapist in enumerate(ids):
            copy.write_row(
                (
                    therapist,
                    organization_id,
                    f"t{i}-{tag}@example.org",
                    f"Terapeuta {i:03d}",
                    "THERAPIST",
                    True,
                    False,
                    0,
                    now,
                    now,
                    now,
                )
            )
    return ids


def insert_patients(conn: psycopg.Connection, organization_id: str, n: int, line: str) -> list[str]:
    """`n` patients with an email; every WHATSAPP_EVERY-th enrolled in monitoring, writing to
    the practice's WhatsApp `line` (a phone and line pair is enrolled once platform-wide)."""
    conn.execute(
        "INSERT INTO patient (id, organization_id, full_name, email, phone, language, "
        "monitoring_consent, monitoring_status, monitoring_phone, monitoring_number) "
        "SELECT gen_random_uuid(), %(org)s, 'Paciente ' || g, 'p' || g || '@example.org', "
        "'+3460' || lpad(g::text, 7, '0'), 'es', g %% %(every)s = 0, "
        "CASE WHEN g %% %(every)s = 0 THEN 'active' ELSE 'none' END, "
        "CASE WHEN g %% %(every)s = 0 THEN '+3460' || lpad(g::text, 7, '0') END, "
        "CASE WHEN g %% %(every)s = 0 THEN %(line)s END "
        "FROM generate_series(1, %(n)s) g",
        {"org": organization_id, "every": WHATSAPP_EVERY, "n": n, "line": line},
    )
    rows = conn.execute(
        "SELECT id FROM patient WHERE organization_id = %s ORDER BY split_part(full_name, ' ', 2)"
        "::int",
        (organization_id,),
    ).fetchall()
    return [str(row[0]) for row in rows]


def time_off_days(index: int, first: date, days: int) -> set[date]:
    """A therapist's days off: every 20th day, staggered, so each month has one or two."""
    return {first + timedelta(days=d) for d in range(days) if (d + index) % 20 == 0}


def copy_bookings(conn: psycopg.Connection, rows: Iterator[tuple[object, ...]]) -> int:
    count = 0
    with conn.cursor().copy(
        "COPY booking (id, organization_id, patient_id, service_id, therapist_id, starts_at, "
        "ends_at, blocked_until, status, amount_cents, currency, source, cancelled_at, "
        "created_at, updated_at) FROM STDIN"
    ) as copy:
        for row in rows:
            copy.write_row(row)
            count += 1
    return count


def zone_of(conn: psycopg.Connection, organization_id: str) -> ZoneInfo:
    row = conn.execute("SELECT timezone FROM organization WHERE id = %s", (organization_id,))
    found = row.fetchone()
    assert found is not None
    return ZoneInfo(str(found[0]))


def slot_practice(
    conn: psycopg.Connection, organization_id: str, service_id: str, tag: str, bookings: int
) -> str:
    """Therapists with weekday hours and time off; `bookings` of them spread from 12 weeks ago
    on, every other hour of each working day. The first therapist's id."""
    zone = zone_of(conn, organization_id)
    therapists = insert_therapists(conn, organization_id, tag, THERAPISTS)
    conn.execute(
        "INSERT INTO weekly_hours (id, organization_id, therapist_id, weekday, starts_at, "
        "ends_at) SELECT gen_random_uuid(), %s, t::uuid, d, %s, %s "
        "FROM unnest(%s::text[]) t, generate_series(0, 4) d",
        (organization_id, *HOURS, therapists),
    )
    now = datetime.now(UTC)
    first = now.astimezone(zone).date() - timedelta(weeks=12)
    span = 300  # days of calendar, enough for every therapist's share of the bookings
    with conn.cursor().copy(
        "COPY availability_exception (id, organization_id, therapist_id, kind, starts_at, "
        "ends_at, note) FROM STDIN"
    ) as copy:
        for i, therapist in enumerate(therapists):
            for day in sorted(time_off_days(i, first, span)):
                start = datetime.combine(day, clock.min, tzinfo=zone)
                copy.write_row(
                    (
                        uuid.uuid4(),
                        organization_id,
                        therapist,
                        "TIME_OFF",
                        start,
                        start + timedelta(days=1),
                        "Día libre",
                    )
                )
    patients = insert_patients(conn, organization_id, PATIENTS, f"+3491100{ord(tag[0]):04d}")

    def rows() -> Iterator[tuple[object, ...]]:
        share = bookings // THERAPISTS
        n = 0
        for i, therapist in enumerate(therapists):
            off = time_off_days(i, first, span)
            hours = range(9 + i % 2, 17, 2)  # every other hourly session: half booked
            made = 0
            day = first
            while made < share:
                if day.weekday() < 5 and day not in off:
                    for hour in hours:
                        if made == share:
                            break
                        start = datetime.combine(day, clock(hour), tzinfo=zone).astimezone(UTC)
                        end = start + timedelta(minutes=DURATION)
                        cancelled = n % 20 == 19
                        status = (
                            "CANCELLED" if cancelled else "COMPLETED" if end < now else "CONFIRMED"
                        )
                        yield (
                            uuid.uuid4(), organization_id, patients[n % len(patients)],
                            service_id, therapist, start, end,
                            end + timedelta(minutes=BUFFER), status, 6000, "eur", "staff",
                            now if cancelled else None, now, now,
                        )  # fmt: skip
                        made += 1
                        n += 1
                day += timedelta(days=1)

    assert copy_bookings(conn, rows()) == bookings
    return therapists[0]


def reminder_practice(conn: psycopg.Connection, organization_id: str, service_id: str) -> None:
    """10,000 confirmed bookings due at the next pass: 46 a therapist, one an hour."""
    therapists = insert_therapists(conn, organization_id, "r", -(-BOOKINGS // PER_THERAPIST_DUE))
    patients = insert_patients(conn, organization_id, BOOKINGS, "+34911000000")
    now = datetime.now(UTC)
    hour = now.replace(minute=0, second=0, microsecond=0)

    def rows() -> Iterator[tuple[object, ...]]:
        for n in range(BOOKINGS):
            therapist, k = divmod(n, PER_THERAPIST_DUE)
            # On the hour, 3 to 48 h after the hour below now: for a pass at the quarter-hour
            # below now, each start is past its 2-hour cut-off and within its 48 hours.
            start = hour + timedelta(hours=3 + k)
            end = start + timedelta(minutes=DURATION)
            yield (
                uuid.uuid4(), organization_id, patients[n], service_id, therapists[therapist],
                start, end, end + timedelta(minutes=BUFFER), "CONFIRMED", 6000, "eur", "staff",
                None, now, now,
            )  # fmt: skip

    assert copy_bookings(conn, rows()) == BOOKINGS
