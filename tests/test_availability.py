"""Availability: who may set whose hours, the slot rules (hours, openings, time off, bookings
with buffers, minimum notice, group places), per-therapist overlaps, and DST in Europe/Madrid."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from httpx import AsyncClient
from sqlalchemy.ext.asyncio import AsyncSession

from kura.bookings.models import Service
from kura.bookings.slots import compute_slots, weekly_windows
from kura.config import Settings
from kura.orgs.models import Organization
from kura.users.models import Role
from tests.clock_support import local, minutes_until, offset, week_ahead, z
from tests.factories import Member, make_patient, make_staff
from tests.scheduling_support import PUBLIC, online_service, set_week

WEEK = week_ahead()  # a Monday 7 to 13 days from the real today: see tests/clock_support.py
MONDAY = WEEK.isoformat()


def _at(hour: int, minute: int = 0, *, day: int = 0) -> datetime:
    """A wall-clock time in Madrid, `day` days after WEEK's Monday."""
    return local(WEEK + timedelta(days=day), hour, minute)


async def _starts(
    client: AsyncClient, owner: Member, service_id: str, day: str = MONDAY
) -> list[str]:
    response = await client.get(
        f"{PUBLIC}/{owner.organization.slug}/slots",
        params={"service_id": service_id, "from": day, "to": day},
    )
    assert response.status_code == 200, response.text
    return [slot["starts_at"] for slot in response.json()["slots"]]


async def test_owner_sets_anyones_hours_therapist_own_assistant_reads(
    client: AsyncClient, owner: Member, session: AsyncSession, settings: Settings
) -> None:
    therapist = await make_staff(session, settings, owner.organization, Role.THERAPIST)
    other = await make_staff(session, settings, owner.organization, Role.THERAPIST)
    assistant = await make_staff(session, settings, owner.organization, Role.ASSISTANT)
    week = [(0, "09:00", "13:00"), (0, "15:00", "19:00"), (2, "10:00", "14:00")]

    assert (await set_week(client, owner, therapist.user.id, week)).status_code == 200
    mine = await set_week(client, therapist, therapist.user.id, week[:1])
    assert mine.status_code == 200
    assert mine.json()["weekly"] == [{"weekday": 0, "starts_at": "09:00:00", "ends_at": "13:00:00"}]
    assert mine.json()["timezone"] == "Europe/Madrid"
    assert (await set_week(client, therapist, other.user.id, week)).status_code == 403
    assert (await set_week(client, assistant, therapist.user.id, week)).status_code == 403
    assert (await set_week(client, owner, assistant.user.id, week)).status_code == 400
    read = await client.get(
        f"/api/v1/staff/{therapist.user.id}/availability", headers=assistant.headers
    )
    assert read.status_code == 200 and len(read.json()["weekly"]) == 1

    overlapping = await set_week(
        client, owner, therapist.user.id, [(1, "09:00", "12:00"), (1, "11:00", "13:00")]
    )
    assert overlapping.status_code == 422
    backwards = await set_week(client, owner, therapist.user.id, [(1, "12:00", "09:00")])
    assert backwards.status_code == 422
    zoned = await set_week(client, owner, therapist.user.id, [(1, "09:00+01:00", "12:00")])
    assert zoned.status_code == 422


async def test_time_off_and_openings_add_and_remove(
    client: AsyncClient, owner: Member, session: AsyncSession, settings: Settings
) -> None:
    therapist = await make_staff(session, settings, owner.organization, Role.THERAPIST)
    base = f"/api/v1/staff/{therapist.user.id}/availability"
    off = await client.post(
        f"{base}/time-off",
        headers=therapist.headers,
        json={"starts_at": offset(_at(0, day=17)), "ends_at": offset(_at(0, day=20))},
    )
    assert off.status_code == 201 and off.json()["kind"] == "TIME_OFF"
    opening = await client.post(
        f"{base}/openings",
        headers=owner.headers,
        json={"starts_at": offset(_at(10, day=5)), "ends_at": offset(_at(12, day=5))},
    )
    assert opening.status_code == 201
    backwards = await client.post(
        f"{base}/openings",
        headers=owner.headers,
        json={"starts_at": offset(_at(12, day=5)), "ends_at": offset(_at(10, day=5))},
    )
    assert backwards.status_code == 422
    read = (await client.get(base, headers=owner.headers)).json()
    assert [e["id"] for e in read["time_off"]] == [off.json()["id"]]
    assert [e["id"] for e in read["openings"]] == [opening.json()["id"]]
    # An opening is not removed through the time-off path.
    wrong = await client.delete(f"{base}/time-off/{opening.json()['id']}", headers=owner.headers)
    assert wrong.status_code == 404
    gone = await client.delete(f"{base}/openings/{opening.json()['id']}", headers=owner.headers)
    assert gone.status_code == 204
    assert (await client.get(base, headers=owner.headers)).json()["openings"] == []


async def test_slots_are_hours_plus_openings_minus_time_off_bookings_buffers_and_notice(
    client: AsyncClient, owner: Member, session: AsyncSession, settings: Settings
) -> None:
    therapist = await make_staff(session, settings, owner.organization, Role.THERAPIST)
    service = await online_service(client, owner, duration_minutes=50, buffer_minutes=10)
    await set_week(client, owner, therapist.user.id, [(0, "09:00", "13:00")])
    # 09:00-13:00 in Madrid (08:00-12:00 UTC in winter), a 50 + 10 minute grid.
    assert await _starts(client, owner, service["id"]) == [z(_at(h)) for h in (9, 10, 11, 12)]
    base = f"/api/v1/staff/{therapist.user.id}/availability"
    await client.post(
        f"{base}/time-off",
        headers=owner.headers,
        json={"starts_at": offset(_at(10, 30)), "ends_at": offset(_at(11))},
    )
    assert await _starts(client, owner, service["id"]) == [
        z(_at(9)),
        z(_at(11)),  # after the time off, on a new grid
        z(_at(12)),
    ]
    await client.post(
        f"{base}/openings",
        headers=owner.headers,
        json={"starts_at": offset(_at(16)), "ends_at": offset(_at(17))},
    )
    # A staff booking of another service at 12:00 local, its buffer included, takes 12:00.
    other = await online_service(client, owner, name="Pareja", duration_minutes=30)
    patient = await make_patient(session, owner.organization)
    staff_booking = await client.post(
        "/api/v1/bookings",
        headers=owner.headers,
        json={
            "patient_id": str(patient.id),
            "service_id": other["id"],
            "therapist_id": str(therapist.user.id),
            "starts_at": offset(_at(12, 20)),
        },
    )
    assert staff_booking.status_code == 201, staff_booking.text
    assert await _starts(client, owner, service["id"]) == [
        z(_at(9)),
        z(_at(11)),
        z(_at(16)),  # the opening
    ]
    # Minimum notice, measured from now: reaching 15:00 on Monday, only the opening is left;
    # reaching past 16:00, nothing on Monday is offered any more.
    for notice, left in ((minutes_until(_at(15)), [z(_at(16))]), (minutes_until(_at(16, 1)), [])):
        patched = await client.patch(
            f"/api/v1/services/{service['id']}",
            headers=owner.headers,
            json={"min_notice_minutes": notice},
        )
        assert patched.status_code == 200, patched.text
        assert await _starts(client, owner, service["id"]) == left


async def test_a_therapist_is_never_double_booked_across_services(
    client: AsyncClient, owner: Member, session: AsyncSession, settings: Settings
) -> None:
    therapist = await make_staff(session, settings, owner.organization, Role.THERAPIST)
    colleague = await make_staff(session, settings, owner.organization, Role.THERAPIST)
    first = await online_service(client, owner, name="Individual")
    second = await online_service(client, owner, name="Pareja", buffer_minutes=15)
    patients = [await make_patient(session, owner.organization) for _ in range(4)]

    async def book(service: dict[str, str], patient: int, therapist_id: object, at: str) -> int:
        response = await client.post(
            "/api/v1/bookings",
            headers=owner.headers,
            json={
                "patient_id": str(patients[patient].id),
                "service_id": service["id"],
                "therapist_id": str(therapist_id),
                "starts_at": at,
            },
        )
        return response.status_code

    def wednesday(hour: int, minute: int = 0) -> str:
        return offset(_at(hour, minute, day=2))

    assert await book(first, 0, therapist.user.id, wednesday(10)) == 201
    # Before the fix, overlaps were counted per service: this was accepted.
    assert await book(second, 1, therapist.user.id, wednesday(10, 30)) == 409
    assert await book(second, 1, colleague.user.id, wednesday(10, 30)) == 201
    # The colleague's buffer (15 min after 11:30) keeps 11:40 out, 11:45 is fine.
    assert await book(first, 2, colleague.user.id, wednesday(11, 40)) == 409
    assert await book(first, 2, colleague.user.id, wednesday(11, 45)) == 201


async def test_group_sessions_fill_their_places_and_keep_other_sessions_out(
    client: AsyncClient, owner: Member, session: AsyncSession
) -> None:
    group = await online_service(client, owner, name="Grupo", capacity=3)
    solo = await online_service(client, owner, name="Individual")
    await set_week(client, owner, owner.user.id, [(0, "09:00", "11:00")])
    at = z(_at(9))
    for n in range(3):
        booked = await client.post(
            f"{PUBLIC}/{owner.organization.slug}/bookings",
            json={
                "service_id": group["id"],
                "starts_at": at,
                "full_name": f"G {n}",
                "email": f"g{n}@example.org",
                "consents": {"privacy": True},
            },
        )
        assert booked.status_code == 201, booked.text
        assert (at in await _starts(client, owner, group["id"])) == (n < 2)
    full = await client.post(
        f"{PUBLIC}/{owner.organization.slug}/bookings",
        json={
            "service_id": group["id"],
            "starts_at": at,
            "full_name": "G 4",
            "email": "g4@example.org",
            "consents": {"privacy": True},
        },
    )
    assert full.status_code == 409
    assert at not in await _starts(client, owner, solo["id"])  # the therapist is in the group


def test_weekly_hours_follow_the_clock_across_both_dst_changes_in_madrid() -> None:
    """Last Sunday of March 2026 (29th: 02:00 -> 03:00) and of October (25th: 03:00 -> 02:00)."""
    # Fixed dates on purpose: a pure function, no clock is read.
    nine_to_one = [(d, time(9), time(13)) for d in range(7)]
    march = weekly_windows(nine_to_one, "Europe/Madrid", date(2026, 3, 26), date(2026, 4, 1))
    assert [w.start.hour for w in march] == [8, 8, 8, 7, 7, 7, 7]  # UTC+1, then UTC+2
    assert all((w.end - w.start).total_seconds() == 4 * 3600 for w in march)
    october = weekly_windows(nine_to_one, "Europe/Madrid", date(2026, 10, 22), date(2026, 10, 28))
    assert [w.start.hour for w in october] == [7, 7, 7, 8, 8, 8, 8]  # UTC+2, then UTC+1
    # A night window across the change is shorter in March and longer in October.
    night = [(6, time(1), time(4))]
    (spring,) = weekly_windows(night, "Europe/Madrid", date(2026, 3, 29), date(2026, 3, 29))
    (autumn,) = weekly_windows(night, "Europe/Madrid", date(2026, 10, 25), date(2026, 10, 25))
    assert (spring.end - spring.start).total_seconds() == 2 * 3600
    assert (autumn.end - autumn.start).total_seconds() == 4 * 3600


async def test_slots_across_the_dst_weeks_are_the_local_hours_in_utc(
    client: AsyncClient, owner: Member, session: AsyncSession
) -> None:
    data = await online_service(client, owner)
    await set_week(client, owner, owner.user.id, [(d, "09:00", "11:00") for d in range(7)])
    organization = await session.get_one(Organization, owner.organization.id)
    service = await session.get_one(Service, data["id"])
    then = datetime(2026, 1, 1, tzinfo=UTC)  # "now" is given: fixed dates, no real clock read

    async def starts(first: date, last: date) -> list[str]:
        slots = await compute_slots(
            session, organization=organization, service=service, first=first, last=last, now=then
        )
        return [f"{s.starts_at:%m-%d %H:%M}" for s in slots]

    assert await starts(date(2026, 3, 28), date(2026, 3, 30)) == [
        "03-28 08:00", "03-28 09:00", "03-29 07:00", "03-29 08:00", "03-30 07:00", "03-30 08:00",
    ]  # fmt: skip
    assert await starts(date(2026, 10, 24), date(2026, 10, 26)) == [
        "10-24 07:00", "10-24 08:00", "10-25 08:00", "10-25 09:00", "10-26 08:00", "10-26 09:00",
    ]  # fmt: skip
    # The same slot whether it is asked for alone or within a month.
    month = await starts(date(2026, 3, 15), date(2026, 4, 14))
    assert {"03-29 07:00", "03-29 08:00"} <= set(month) and len(month) == 62
