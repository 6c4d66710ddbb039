"""Opening hours in the workspace: a clinician's week (two ranges a day, in the practice's
time zone), their time off as whole local days and one-off openings outside the week (a day,
from, to). Yours, or anyone's for the owner."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from starlette.datastructures import FormData

from kura.auth.sessions import Authenticated
from kura.bookings import availability
from kura.bookings.availability_schemas import ExceptionCreate, WeeklyHoursUpdate
from kura.bookings.models import ExceptionKind
from kura.briefings.content import practice_zone
from kura.db.session import DbSession
from kura.errors import NotFound
from kura.request_info import client_ip
from kura.users.models import Role, User
from kura.workspace.agenda_pages import clinicians
from kura.workspace.web import (
    PREFIX,
    CheckedForm,
    Clinician,
    WorkspaceRoute,
    field_errors,
    redirect,
    render,
)

router = APIRouter(prefix=PREFIX, route_class=WorkspaceRoute, include_in_schema=False)
HOURS = f"{PREFIX}/settings/hours"
RANGES_A_DAY = 2


async def _whose(session: DbSession, auth: Authenticated, asked: str | None) -> User:
    """Yours, or (owner) the clinician asked for."""
    wanted = auth.user.id
    if asked and auth.user.role == Role.OWNER:
        try:
            wanted = uuid.UUID(asked)
        except ValueError:
            wanted = auth.user.id
    return await availability.staff_member(session, auth, wanted, write=True)


async def _page(
    request: Request,
    auth: Authenticated,
    session: DbSession,
    user: User,
    *,
    status_code: int = 200,
    errors: dict[str, str] | None = None,
) -> HTMLResponse:
    current = await availability.availability(session, auth, user)
    week: dict[int, list[tuple[str, str]]] = {day: [] for day in range(7)}
    for entry in current.weekly:
        week[entry.weekday].append((f"{entry.starts_at:%H:%M}", f"{entry.ends_at:%H:%M}"))
    zone = practice_zone(auth.organization.timezone)
    return render(
        request,
        "hours.html",
        status_code,
        page="settings",
        person=user,
        people=await clinicians(session, auth) if auth.user.role == Role.OWNER else [],
        week=week,
        ranges=RANGES_A_DAY,
        time_off=[
            (entry.id, *_days(entry.starts_at, entry.ends_at, zone), entry.note)
            for entry in current.time_off
        ],
        openings=[
            (entry.id, *_days(entry.starts_at, entry.ends_at, zone), entry.note)
            for entry in current.openings
        ],
        errors=errors or {},
    )


@router.get("/settings/hours")
async def hours_page(
    request: Request,
    auth: Clinician,
    session: DbSession,
    therapist: Annotated[str | None, Query(max_length=40)] = None,
) -> HTMLResponse:
    """A clinician's weekly hours and upcoming time off."""
    user = await _whose(session, auth, therapist)
    return await _page(request, auth, session, user)


@router.post("/settings/hours/{user_id}/weekly")
async def save_week(
    user_id: uuid.UUID, request: Request, auth: Clinician, form: CheckedForm, session: DbSession
) -> Response:
    """Replace the week: each day's ranges as typed (a blank range is no range)."""
    user = await availability.staff_member(session, auth, user_id, write=True)
    hours = []
    for day in range(7):
        for n in range(RANGES_A_DAY):
            starts, ends = form.get(f"d{day}s{n}"), form.get(f"d{day}e{n}")
            if isinstance(starts, str) and isinstance(ends, str) and starts and ends:
                hours.append({"weekday": day, "starts_at": starts, "ends_at": ends})
    try:
        body = WeeklyHoursUpdate.model_validate({"hours": hours})
    except ValidationError as exc:
        errors = {"week": "; ".join(field_errors(exc, request).values()) or "invalid"}
        return await _page(request, auth, session, user, status_code=422, errors=errors)
    await availability.replace_weekly(session, auth, user, body.hours, ip=client_ip(request))
    return _back(auth, user)


@router.post("/settings/hours/{user_id}/time-off")
async def add_time_off(
    user_id: uuid.UUID, request: Request, auth: Clinician, form: CheckedForm, session: DbSession
) -> Response:
    """Whole local days off, first to last included (existing bookings stay)."""

    def days(zone: ZoneInfo) -> tuple[datetime, datetime]:
        first = date.fromisoformat(str(form.get("first", "")))
        last = date.fromisoformat(str(form.get("last", "")) or str(first))
        return (
            datetime.combine(first, time.min, tzinfo=zone),
            datetime.combine(last + timedelta(days=1), time.min, tzinfo=zone),
        )

    return await _add_entry(request, auth, session, user_id, form, ExceptionKind.TIME_OFF, days)


@router.post("/settings/hours/{user_id}/openings")
async def add_opening(
    user_id: uuid.UUID, request: Request, auth: Clinician, form: CheckedForm, session: DbSession
) -> Response:
    """One day's extra range outside the weekly hours (time off still wins over it)."""

    def hours(zone: ZoneInfo) -> tuple[datetime, datetime]:
        day = date.fromisoformat(str(form.get("day", "")))
        return (
            datetime.combine(day, time.fromisoformat(str(form.get("from", ""))), tzinfo=zone),
            datetime.combine(day, time.fromisoformat(str(form.get("to", ""))), tzinfo=zone),
        )

    return await _add_entry(request, auth, session, user_id, form, ExceptionKind.OPENING, hours)


_ERROR_KEYS = {ExceptionKind.TIME_OFF: "time_off", ExceptionKind.OPENING: "opening"}


async def _add_entry(
    request: Request,
    auth: Authenticated,
    session: DbSession,
    user_id: uuid.UUID,
    form: FormData,
    kind: ExceptionKind,
    typed_range: Callable[[ZoneInfo], tuple[datetime, datetime]],
) -> Response:
    """A time-off range or an opening from what was typed in the practice's zone."""
    user = await availability.staff_member(session, auth, user_id, write=True)
    try:
        starts_at, ends_at = typed_range(practice_zone(auth.organization.timezone))
        note = str(form.get("note", ""))[:200].strip() or None
        body = ExceptionCreate(starts_at=starts_at, ends_at=ends_at, note=note)
    except (ValueError, ValidationError):
        errors = {_ERROR_KEYS[kind]: "invalid"}
        return await _page(request, auth, session, user, status_code=422, errors=errors)
    await availability.add_exception(session, auth, user.id, body, kind, ip=client_ip(request))
    return _back(auth, user)


_KINDS = {"time-off": ExceptionKind.TIME_OFF, "openings": ExceptionKind.OPENING}


@router.post("/settings/hours/{user_id}/{kind}/{entry_id}/remove")
async def remove_entry(
    user_id: uuid.UUID,
    kind: str,
    entry_id: uuid.UUID,
    request: Request,
    auth: Clinician,
    form: CheckedForm,
    session: DbSession,
) -> RedirectResponse:
    """Remove a time-off range or a one-off opening."""
    if kind not in _KINDS:
        raise NotFound("No such entry.")
    await availability.remove_exception(
        session, auth, user_id, entry_id, _KINDS[kind], ip=client_ip(request)
    )
    user = await availability.staff_member(session, auth, user_id, write=True)
    return _back(auth, user)


def _days(starts: datetime, ends: datetime, zone: ZoneInfo) -> tuple[str, str]:
    """A range as the days it covers (it ends at a midnight) or as local times."""
    first, end = starts.astimezone(zone), ends.astimezone(zone)
    if first.time() == end.time() == time.min:
        return f"{first:%Y-%m-%d}", f"{end - timedelta(days=1):%Y-%m-%d}"
    return f"{first:%Y-%m-%d %H:%M}", f"{end:%Y-%m-%d %H:%M}"


def _back(auth: Authenticated, user: User) -> RedirectResponse:
    return redirect(HOURS if user.id == auth.user.id else f"{HOURS}?therapist={user.id}")
