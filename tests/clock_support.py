"""Dates for the scheduling tests, relative to the real clock the app uses (kura.db.base.utcnow:
free slots, minimum notice, holds and cancellation windows are all measured from it), so the
tests mean the same whatever day they run.

Times are built from wall-clock times in the practice's zone: 10:00 in Madrid is 09:00 UTC in
winter and 08:00 UTC in summer, so an expected UTC string is derived (`z`), never written out.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from kura.db.base import utcnow

ZONE = "Europe/Madrid"  # every test practice's zone (tests/factories.py)
MADRID = ZoneInfo(ZONE)


def local_date(moment: datetime) -> date:
    """The practice's calendar date at that instant."""
    return moment.astimezone(MADRID).date()


def today() -> date:
    """The practice's date now: the anchor of the weeks the tests book in."""
    return local_date(utcnow())


def monday_after(day: date, days: int = 0) -> date:
    """The first Monday on or after `day` + `days`."""
    first = day + timedelta(days=days)
    return first + timedelta(days=-first.weekday() % 7)


def week_ahead() -> date:
    """The Monday of a week at least 7 days away (7 to 13): a whole week of margin for the
    default notice and cancellation window, and for a run that crosses midnight."""
    return monday_after(today(), 7)


def local(day: date, hour: int, minute: int = 0) -> datetime:
    """That wall-clock time in Madrid on that day, as an aware datetime (its own UTC offset)."""
    return datetime.combine(day, time(hour, minute), tzinfo=MADRID)


def z(moment: datetime) -> str:
    """The instant in UTC as the API writes it: 2026-12-07T09:00:00Z."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def offset(moment: datetime) -> str:
    """The instant as local ISO 8601 with Madrid's offset of that date: …T10:00:00+01:00."""
    return moment.astimezone(MADRID).isoformat()


def shown(moment: datetime) -> str:
    """The instant as emails and messages show it, in Madrid: 07/12/2026 10:00."""
    return f"{moment.astimezone(MADRID):%d/%m/%Y %H:%M}"


def minutes_until(moment: datetime) -> int:
    """Whole minutes from now until `moment`, rounded up (a notice that just reaches it)."""
    return -int((utcnow() - moment) // timedelta(minutes=1))
