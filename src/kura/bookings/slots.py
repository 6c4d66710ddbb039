"""Free slots: weekly hours (local time, DST-correct through zoneinfo) plus openings, minus
time off, active bookings with their buffers and the minimum notice. Computed and returned
in UTC."""

from __future__ import annotations

import uuid
from bisect import bisect_left
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from kura.bookings.models import (
    ACTIVE_STATUSES,
    AvailabilityException,
    Booking,
    BookingStatus,
    ExceptionKind,
    Service,
    WeeklyHours,
)
from kura.briefings.content import practice_zone
from kura.orgs.models import Organization
from kura.users.models import CLINICAL_ROLES, User

MAX_RANGE_DAYS = 31


@dataclass(frozen=True, order=True)
class Interval:
    start: datetime
    end: datetime


@dataclass(frozen=True)
class Busy:
    start: datetime
    end: datetime  # the end of the booking's buffer
    service_id: uuid.UUID


@dataclass(frozen=True)
class Slot:
    starts_at: datetime
    ends_at: datetime
    therapist_id: uuid.UUID
    therapist_name: str


def local_day_range(first: date, last: date, timezone: str) -> Interval:
    """[first 00:00, the day after last 00:00) in the practice's zone, as UTC instants."""
    zone = practice_zone(timezone)
    start = datetime.combine(first, time.min, tzinfo=zone).astimezone(UTC)
    end = datetime.combine(last + timedelta(days=1), time.min, tzinfo=zone).astimezone(UTC)
    return Interval(start, end)


def weekly_windows(
    hours: Iterable[tuple[int, time, time]], timezone: str, first: date, last: date
) -> list[Interval]:
    """Each day's hours as UTC intervals; a day crossing a DST change is simply shorter or
    longer, because each wall-clock time is converted on its own date."""
    zone = practice_zone(timezone)
    by_weekday: dict[int, list[tuple[time, time]]] = defaultdict(list)
    for weekday, start, end in hours:
        by_weekday[weekday].append((start, end))
    windows = []
    day = first
    while day <= last:
        for start, end in by_weekday.get(day.weekday(), ()):
            windows.append(
                Interval(
                    datetime.combine(day, start, tzinfo=zone).astimezone(UTC),
                    datetime.combine(day, end, tzinfo=zone).astimezone(UTC),
                )
            )
        day += timedelta(days=1)
    return windows


def merge(intervals: Iterable[Interval]) -> list[Interval]:
    merged: list[Interval] = []
    for interval in sorted(intervals):
        if interval.end <= interval.start:
            continue
        if merged and interval.start <= merged[-1].end:
            last = merged[-1]
            merged[-1] = Interval(last.start, max(last.end, interval.end))
        else:
            merged.append(interval)
    return merged


def subtract(windows: Sequence[Interval], cuts: Iterable[Interval]) -> list[Interval]:
    result = list(merge(windows))
    for cut in merge(cuts):
        pieces = []
        for window in result:
            if cut.end <= window.start or cut.start >= window.end:
                pieces.append(window)
                continue
            if window.start < cut.start:
                pieces.append(Interval(window.start, cut.start))
            if cut.end < window.end:
                pieces.append(Interval(cut.end, window.end))
        result = pieces
    return result


def free_starts(
    windows: Sequence[Interval],
    busy: Sequence[Busy],
    *,
    service: Service,
    earliest: datetime,
) -> list[datetime]:
    """Starts on a grid of duration + buffer from each window's start, where the session fits
    in the window and its time plus buffer overlaps no other booking. A group service
    (capacity > 1) may join bookings of itself at the same start while places are left."""
    duration = timedelta(minutes=service.duration_minutes)
    blocked = duration + timedelta(minutes=service.buffer_minutes)
    ordered = sorted(busy, key=lambda b: b.start)
    starts = [b.start for b in ordered]
    reach: list[datetime] = []  # reach[i]: the latest end among ordered[: i + 1]
    for entry in ordered:
        reach.append(max(reach[-1], entry.end) if reach else entry.end)
    found = []
    for window in windows:
        candidate = window.start
        while candidate + duration <= window.end:
            if candidate >= earliest:
                block_end = candidate + blocked
                members, others = 0, False
                j = bisect_left(starts, block_end) - 1
                while j >= 0 and reach[j] > candidate:
                    entry = ordered[j]
                    if entry.end > candidate:
                        same_session = entry.service_id == service.id and entry.start == candidate
                        if service.capacity > 1 and same_session:
                            members += 1
                        else:
                            others = True
                            break
                    j -= 1
                if not others and members < service.capacity:
                    found.append(candidate)
            candidate += blocked
    return found


async def offering_therapists(
    session: AsyncSession, organization: Organization, therapist_id: uuid.UUID | None = None
) -> dict[uuid.UUID, str]:
    """Active owners and therapists of the practice (every one offers every online service)."""
    statement = select(User.id, User.full_name).where(
        User.organization_id == organization.id,
        User.is_active.is_(True),
        User.role.in_(CLINICAL_ROLES),
    )
    if therapist_id is not None:
        statement = statement.where(User.id == therapist_id)
    return {row.id: row.full_name for row in await session.execute(statement.order_by(User.id))}


async def compute_slots(
    session: AsyncSession,
    *,
    organization: Organization,
    service: Service,
    first: date,
    last: date,
    now: datetime,
    therapist_id: uuid.UUID | None = None,
    ignore_booking: uuid.UUID | None = None,
) -> list[Slot]:
    """Free slots starting within the local days first..last. The grid is built from a day
    either side, so a window's slots are the same whatever range is asked for."""
    therapists = await offering_therapists(session, organization, therapist_id)
    if not therapists:
        return []
    wanted = local_day_range(first, last, organization.timezone)
    around = Interval(wanted.start - timedelta(days=2), wanted.end + timedelta(days=2))
    ids = list(therapists)
    hours: dict[uuid.UUID, list[tuple[int, time, time]]] = defaultdict(list)
    for hour in await session.execute(
        select(
            WeeklyHours.therapist_id,
            WeeklyHours.weekday,
            WeeklyHours.starts_at,
            WeeklyHours.ends_at,
        ).where(WeeklyHours.organization_id == organization.id, WeeklyHours.therapist_id.in_(ids))
    ):
        hours[hour.therapist_id].append((hour.weekday, hour.starts_at, hour.ends_at))
    openings: dict[uuid.UUID, list[Interval]] = defaultdict(list)
    time_off: dict[uuid.UUID, list[Interval]] = defaultdict(list)
    for entry in await session.scalars(
        select(AvailabilityException).where(
            AvailabilityException.organization_id == organization.id,
            AvailabilityException.therapist_id.in_(ids),
            AvailabilityException.starts_at < around.end,
            AvailabilityException.ends_at > around.start,
        )
    ):
        target = openings if entry.kind == ExceptionKind.OPENING else time_off
        target[entry.therapist_id].append(Interval(entry.starts_at, entry.ends_at))
    busy: dict[uuid.UUID, list[Busy]] = defaultdict(list)
    end = func.coalesce(Booking.blocked_until, Booking.ends_at)
    holding = or_(
        Booking.status != BookingStatus.PENDING,
        Booking.hold_expires_at.is_(None),
        Booking.hold_expires_at > now,
    )
    bookings = select(Booking.therapist_id, Booking.starts_at, end.label("end"), Booking.service_id)
    bookings = bookings.where(
        Booking.organization_id == organization.id,
        Booking.therapist_id.in_(ids),
        Booking.status.in_(ACTIVE_STATUSES),
        holding,
        Booking.starts_at < around.end,
        end > around.start,
    )
    if ignore_booking is not None:
        bookings = bookings.where(Booking.id != ignore_booking)
    for booking in await session.execute(bookings):
        if booking.therapist_id is not None:
            busy[booking.therapist_id].append(
                Busy(booking.starts_at, booking.end, booking.service_id)
            )

    earliest = now + timedelta(minutes=service.min_notice_minutes)
    first_day, last_day = first - timedelta(days=1), last + timedelta(days=1)
    slots = []
    duration = timedelta(minutes=service.duration_minutes)
    for therapist, name in therapists.items():
        windows = weekly_windows(hours[therapist], organization.timezone, first_day, last_day)
        windows = subtract(merge([*windows, *openings[therapist]]), time_off[therapist])
        for start in free_starts(windows, busy[therapist], service=service, earliest=earliest):
            if wanted.start <= start < wanted.end:
                slots.append(Slot(start, start + duration, therapist, name))
    slots.sort(key=lambda slot: (slot.starts_at, str(slot.therapist_id)))
    return slots
