"""Scheduling at 10,000 bookings (#20): the public slots endpoint's latency for one therapist's
month, and the reminder pass over 10,000 due bookings (one pass, no duplicates).

One server on one embedded PostgreSQL with the real migrations. Slots: two practices set up
alike (therapists, weekly hours, time off, one online service), one with 10,000 bookings and
one with none (the baseline); requests alternate between them and `GET /health` (the floor),
so the three share the machine's noise. Reminders: the job's body, `queue_due_reminders`, runs
in process on the same database, twice at one moment, then twice at once after its claims and
jobs are cleared.
"""

from __future__ import annotations

import asyncio
import statistics
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock
from itertools import cycle

import httpx
import psycopg
from sqlalchemy.engine import URL

from bench.load import bench_server_with_url
from bench.scheduling_data import (
    ANY_EVERY,
    BOOKINGS,
    BUFFER,
    DURATION,
    GOAL_MS,
    IPS,
    PATIENTS,
    PER_THERAPIST_DUE,
    RACE,
    REMINDER_OFFSETS,
    SAMPLES,
    THERAPISTS,
    WARMUP,
    WHATSAPP_EVERY,
    online_service,
    register_practice,
    reminder_practice,
    slot_practice,
    zone_of,
)
from kura.bookings.models import Service
from kura.bookings.reminders import queue_due_reminders
from kura.bookings.slots import compute_slots
from kura.db.engine import Database
from kura.db.urls import libpq_conninfo
from kura.orgs.models import Organization


def _next_month(today: date) -> tuple[date, date]:
    first = (today.replace(day=1) + timedelta(days=32)).replace(day=1)
    last = (first + timedelta(days=32)).replace(day=1) - timedelta(days=1)
    return first, last


def _percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[max(0, round(0.95 * len(ordered)) - 1)]


def _slots(
    base: str, targets: dict[str, tuple[str, int]]
) -> tuple[dict[str, list[float]], dict[str, int]]:
    """Alternate the targets request by request, each (path, every n-th round); milliseconds
    per target, and the slots the last answer offered."""
    ips = cycle(IPS)
    found: dict[str, int] = {}
    times: dict[str, list[float]] = {name: [] for name in targets}
    with httpx.Client(base_url=base, timeout=60) as client:
        for round_ in range(WARMUP + SAMPLES):
            for name, (path, every) in targets.items():
                if round_ % every:
                    continue
                headers = {"X-Forwarded-For": next(ips)}
                start = time.perf_counter()
                response = client.get(path, headers=headers)
                elapsed = (time.perf_counter() - start) * 1000
                response.raise_for_status()
                if round_ >= WARMUP:
                    times[name].append(elapsed)
                if "slots" in response.json():
                    found[name] = len(response.json()["slots"])
    return times, found


def _due(conn: psycopg.Connection, moment: datetime) -> int:
    """Reminders due at `moment`, counted without the product's code: one per confirmed
    booking 2-48 h ahead with an email, plus one per such booking of an enrolled patient."""
    row = conn.execute(
        "SELECT count(*) FILTER (WHERE p.email IS NOT NULL) + count(*) FILTER "
        "(WHERE p.monitoring_status = 'active' AND p.monitoring_phone IS NOT NULL) "
        "FROM booking b JOIN patient p ON p.id = b.patient_id WHERE b.status = 'CONFIRMED' "
        "AND b.starts_at > %s AND b.starts_at <= %s AND p.restricted_at IS NULL",
        (moment + timedelta(hours=2), moment + timedelta(hours=48)),
    ).fetchone()
    return int(row[0]) if row else 0


def _queue_counts(conn: psycopg.Connection) -> tuple[int, int, int]:
    """(claim rows, reminder jobs queued, jobs beyond one per booking and channel)."""
    claims = conn.execute("SELECT count(*) FROM booking_reminder").fetchone()
    jobs = conn.execute(
        "SELECT count(*), count(DISTINCT (args->>'booking_id', task_name)) "
        "FROM procrastinate_jobs WHERE (task_name = 'bookings:send_whatsapp_reminder' OR "
        "(task_name = 'bookings:send_booking_email' AND args->>'event' = 'reminder'))"
    ).fetchone()
    assert claims is not None and jobs is not None
    return int(claims[0]), int(jobs[0]), int(jobs[0]) - int(jobs[1])


async def _pass(database: Database, moment: datetime) -> tuple[int, float]:
    start = time.perf_counter()
    async with database.sessionmaker() as session:
        queued = await queue_due_reminders(session, moment, REMINDER_OFFSETS)
        await session.commit()
    return queued, time.perf_counter() - start


async def _reminder_passes(url: URL, moment: datetime) -> dict[str, tuple[int, float]]:
    database = Database.connect(url)
    try:
        first = await _pass(database, moment)
        second = await _pass(database, moment)
        return {"first": first, "second": second}
    finally:
        await database.dispose()


async def _in_process(
    url: URL, cases: dict[str, tuple[str, str, str]], first: date, last: date
) -> dict[str, list[float]]:
    """`compute_slots` alone, for (organization, service, therapist): no HTTP, no throttle,
    no serialization. Milliseconds per call, alternating the cases."""
    database = Database.connect(url)
    times: dict[str, list[float]] = {name: [] for name in cases}
    try:
        async with database.sessionmaker() as session:
            loaded = {}
            for name, (org, service, therapist) in cases.items():
                organization = await session.get(Organization, uuid.UUID(org))
                offered = await session.get(Service, uuid.UUID(service))
                assert organization is not None and offered is not None
                loaded[name] = (organization, offered, uuid.UUID(therapist))
            for round_ in range(WARMUP + SAMPLES):
                for name, (organization, offered, therapist_id) in loaded.items():
                    start = time.perf_counter()
                    await compute_slots(
                        session,
                        organization=organization,
                        service=offered,
                        first=first,
                        last=last,
                        now=datetime.now(UTC),
                        therapist_id=therapist_id,
                    )
                    if round_ >= WARMUP:
                        times[name].append((time.perf_counter() - start) * 1000)
                await session.commit()  # ends the snapshot; keeps the objects loaded
    finally:
        await database.dispose()
    return times


async def _concurrent_passes(url: URL, moment: datetime) -> tuple[int, int, float]:
    database = Database.connect(url)
    try:
        start = time.perf_counter()
        (a, _), (b, _) = await asyncio.gather(_pass(database, moment), _pass(database, moment))
        return a, b, time.perf_counter() - start
    finally:
        await database.dispose()


def measure() -> list[str]:
    wall = time.perf_counter()
    with bench_server_with_url(TRUSTED_PROXY_HOPS="1") as (base, url, _data, _pid):
        full_org, full_headers = register_practice(base, "full@example.org", "Agenda Llena")
        empty_org, empty_headers = register_practice(base, "empty@example.org", "Agenda Vacia")
        full_service = online_service(base, url, "full@example.org", full_headers)
        empty_service = online_service(base, url, "empty@example.org", empty_headers)
        with psycopg.connect(libpq_conninfo(url), autocommit=True) as conn:
            full_therapist = slot_practice(conn, full_org, full_service, "f", BOOKINGS)
            empty_therapist = slot_practice(conn, empty_org, empty_service, "e", 0)
            conn.execute("ANALYZE")
            slugs: dict[str, str] = {
                str(row[0]): str(row[1])
                for row in conn.execute(
                    "SELECT id, slug FROM organization WHERE id IN (%s, %s)", (full_org, empty_org)
                )
            }
            zone = zone_of(conn, full_org)
            first, last = _next_month(datetime.now(zone).date())
            in_month = conn.execute(
                "SELECT count(*) FILTER (WHERE therapist_id = %s), count(*) FROM booking "
                "WHERE organization_id = %s AND status <> 'CANCELLED' AND starts_at >= %s "
                "AND starts_at < %s",
                (
                    full_therapist,
                    full_org,
                    datetime.combine(first, clock.min, tzinfo=zone),
                    datetime.combine(last + timedelta(days=1), clock.min, tzinfo=zone),
                ),
            ).fetchone()
            assert in_month is not None
        month = f"from={first}&to={last}"

        def path(org: str, service: str, therapist: str | None) -> str:
            who = f"&therapist_id={therapist}" if therapist else ""
            return f"/api/v1/public/booking/{slugs[org]}/slots?service_id={service}&{month}{who}"

        one = (f"one therapist ({THERAPISTS} in the practice)", 1)
        anyone = (f"any of the {THERAPISTS} therapists", ANY_EVERY)
        targets = {
            f"{one[0]}, 10,000 bookings": (path(full_org, full_service, full_therapist), 1),
            f"{one[0]}, no bookings (baseline)": (
                path(empty_org, empty_service, empty_therapist),
                1,
            ),
            f"{anyone[0]}, 10,000 bookings": (path(full_org, full_service, None), ANY_EVERY),
            f"{anyone[0]}, no bookings (baseline)": (
                path(empty_org, empty_service, None),
                ANY_EVERY,
            ),
            "`GET /health` (floor)": ("/health", 1),
        }
        times, found = _slots(base, targets)
        alone = asyncio.run(
            _in_process(
                url,
                {
                    "10,000 bookings": (full_org, full_service, full_therapist),
                    "no bookings": (empty_org, empty_service, empty_therapist),
                },
                first,
                last,
            )
        )

        reminder_org, reminder_headers = register_practice(base, "rem@example.org", "Recordatorios")
        reminder_service = online_service(base, url, "rem@example.org", reminder_headers)
        now = datetime.now(UTC)
        moment = now.replace(minute=now.minute - now.minute % 15, second=0, microsecond=0)
        with psycopg.connect(libpq_conninfo(url), autocommit=True) as conn:
            reminder_practice(conn, reminder_org, reminder_service)
            conn.execute("ANALYZE")
            due = _due(conn, moment)
        passes = asyncio.run(_reminder_passes(url, moment))
        with psycopg.connect(libpq_conninfo(url), autocommit=True) as conn:
            claims, jobs, duplicates = _queue_counts(conn)
            # Two passes at once: clear the claims and queued jobs of RACE due bookings.
            cleared = conn.execute(
                "WITH chosen AS (SELECT id FROM booking WHERE organization_id = %s "
                "ORDER BY starts_at, id LIMIT %s), jobs AS (DELETE FROM procrastinate_jobs "
                "WHERE (task_name = 'bookings:send_whatsapp_reminder' OR (task_name = "
                "'bookings:send_booking_email' AND args->>'event' = 'reminder')) AND "
                "(args->>'booking_id')::uuid IN (SELECT id FROM "
                "chosen)) DELETE FROM booking_reminder WHERE booking_id IN (SELECT id FROM "
                "chosen) RETURNING 1",
                (reminder_org, RACE),
            ).rowcount
        racing_a, racing_b, racing_seconds = asyncio.run(_concurrent_passes(url, moment))
        with psycopg.connect(libpq_conninfo(url), autocommit=True) as conn:
            race_claims, race_jobs, race_duplicates = _queue_counts(conn)
    return _markdown(
        times=times,
        alone=alone,
        found=found,
        in_month=(int(in_month[0]), int(in_month[1])),
        month=(first, last),
        due=due,
        passes=passes,
        queued=(claims, jobs, duplicates),
        race=(cleared, racing_a, racing_b, racing_seconds, race_claims, race_jobs, race_duplicates),
        wall=time.perf_counter() - wall,
    )


def _markdown(
    *,
    times: dict[str, list[float]],
    alone: dict[str, list[float]],
    found: dict[str, int],
    in_month: tuple[int, int],
    month: tuple[date, date],
    due: int,
    passes: dict[str, tuple[int, float]],
    queued: tuple[int, int, int],
    race: tuple[int, int, int, float, int, int, int],
    wall: float,
) -> list[str]:
    floor = _percentiles(times["`GET /health` (floor)"])[1]
    names = list(times)
    rows = []
    for index, name in enumerate(names):
        p50, p95 = _percentiles(times[name])
        baseline = ""
        if index % 2 == 0 and index + 1 < len(names):
            baseline = f"{p95 / _percentiles(times[names[index + 1]])[1]:.2f}x"
        slots = str(found[name]) if name in found else "-"
        meets = "yes" if p95 <= GOAL_MS else "**no**"
        rows.append(
            f"| {name} | {slots} | {p50:.1f} ms | {p95:.1f} ms | {baseline or '-'} "
            f"| {p95 / floor:.0f}x | {meets} |"
        )
    (first_queued, first_s), (second_queued, second_s) = passes["first"], passes["second"]
    claims, jobs, duplicates = queued
    cleared, race_a, race_b, race_s, race_claims, race_jobs, race_duplicates = race
    ok = first_queued == claims == jobs == due and second_queued == duplicates == 0
    race_ok = race_a + race_b == cleared and race_claims == race_jobs == due
    race_ok = race_ok and race_duplicates == 0
    return [
        "## Scheduling at 10,000 bookings",
        "",
        f"One server on the embedded PostgreSQL (real migrations). Two practices set up alike: "
        f"{THERAPISTS} therapists with Monday-Friday 09:00-17:00 hours (local), a day off every "
        f"20 days, one online service of {DURATION} min + {BUFFER} min buffer (8 sessions a "
        f"day). One holds {BOOKINGS:,} bookings (500 a therapist, every other hour of each "
        "working day from 12 weeks ago on: completed, confirmed, 5% cancelled; "
        f"{PATIENTS:,} patients), the other none. `GET /api/v1/public/booking/{{slug}}/slots` "
        f"for the month {month[0]}..{month[1]} ({in_month[0]} of the therapist's bookings and "
        f"{in_month[1]:,} of the practice's in it). Sequential requests, alternating the "
        f"targets request by request after {WARMUP} warm-up rounds: {SAMPLES} samples each, the "
        f"whole practice's month {SAMPLES // ANY_EVERY} (every {ANY_EVERY}th round). Each "
        "request also spends the per-IP read budget in its own transaction; X-Forwarded-For "
        f"cycles {len(IPS)} addresses with TRUSTED_PROXY_HOPS=1 to stay under it. Goal: p95 <= "
        f"{GOAL_MS:.0f} ms.",
        "",
        "| slots for the month | slots found | p50 | p95 | p95 vs no bookings | p95 / floor "
        f"| <= {GOAL_MS:.0f} ms |",
        "|---|---|---|---|---|---|---|",
        *rows,
        "",
        "Where the time goes: `compute_slots` alone for the one therapist's month, in process "
        f"on the same database ({SAMPLES} calls each, alternating): "
        + "; ".join(
            f"{name} p50 {_percentiles(ms)[0]:.1f} ms, p95 {_percentiles(ms)[1]:.1f} ms"
            for name, ms in alone.items()
        )
        + ". The rest of a request is HTTP, the per-IP read budget's own transaction, "
        "the practice and service lookups and the JSON answer.",
        "",
        f"Reminder pass: `queue_due_reminders` (the `send_reminders` job's body, offsets "
        f"{REMINDER_OFFSETS[0]} and {REMINDER_OFFSETS[1]} h) in process, at the quarter-hour "
        f"below now, with {BOOKINGS:,} confirmed bookings of a third practice due in its "
        f"window ({-(-BOOKINGS // PER_THERAPIST_DUE)} therapists, one session an hour from "
        f"about 3 to 48 h ahead; every {WHATSAPP_EVERY}th patient enrolled in monitoring, so "
        "also a WhatsApp reminder), plus the slot practice's bookings due then. Due, counted "
        f"in SQL apart from the product's code: {due:,} reminders.",
        "",
        "| pass | reminders queued | time | per reminder |",
        "|---|---|---|---|",
        f"| first | {first_queued:,} | {first_s:.2f} s "
        f"| {first_s / max(first_queued, 1) * 1000:.2f} ms |",
        f"| second, same moment (baseline: finds and claims, queues nothing) | {second_queued:,} "
        f"| {second_s:.2f} s | - |",
        f"| two at once, after clearing {cleared:,} reminders' claims and jobs "
        f"| {race_a:,} + {race_b:,} "
        f"| {race_s:.2f} s | - |",
        "",
        f"After the two sequential passes: {claims:,} claim rows in `booking_reminder`, "
        f"{jobs:,} reminder jobs in `procrastinate_jobs`, {duplicates} beyond one per booking "
        f"and channel ({'complete in one pass, none twice' if ok else '**check failed**'}). "
        f"After the two passes at once: {race_claims:,} claims, {race_jobs:,} jobs, "
        f"{race_duplicates} duplicates ({'each once' if race_ok else '**check failed**'}). "
        f"The first pass is {first_s / (15 * 60) * 100:.1f}% of the 15 minutes between "
        f"passes and {first_s / max(second_s, 1e-9):.1f}x the second. Sending (the worker "
        "running the queued jobs) is not measured here.",
        "",
        f"(`python -m bench.scheduling`, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {wall:.0f} s "
        "wall.)",
        "",
    ]


if __name__ == "__main__":
    print("\n".join(measure()))
