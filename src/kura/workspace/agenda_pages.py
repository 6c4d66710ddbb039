"""The agenda: a week of sessions in the practice's time zone (per clinician or everyone),
booking a patient from their chart, and one booking moved or cancelled. Every staff role, as
the API; the same services check capacity and a clinician's other sessions."""

from __future__ import annotations

import uuid
from datetime import date, datetime, time, timedelta
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy import select

from kura.audit.service import AuditAction
from kura.auth.sessions import Authenticated
from kura.bookings import service as bookings
from kura.bookings.audit import audit_booking
from kura.bookings.models import Booking, BookingStatus, Service
from kura.bookings.schemas import BookingCreate, BookingUpdate
from kura.bookings.tasks import queue_booking_email
from kura.briefings.content import local_today, practice_zone
from kura.db.base import utcnow
from kura.db.session import DbSession
from kura.patients.models import Patient
from kura.patients.repository import get_readable as get_patient
from kura.request_info import client_ip
from kura.users.models import CLINICAL_ROLES, User
from kura.web_pages import settings_of
from kura.workspace.web import (
    PREFIX,
    CheckedForm,
    Staff,
    WorkspaceRoute,
    error_page,
    redirect,
    render,
)

router = APIRouter(prefix=PREFIX, route_class=WorkspaceRoute, include_in_schema=False)
WEEK_LIMIT = 500  # a busy practice's week, with room to spare


async def clinicians(session: DbSession, auth: Authenticated) -> list[User]:
    """The practice's active owners and therapists, by name: who can be booked."""
    rows = await session.scalars(
        select(User)
        .where(
            User.organization_id == auth.user.organization_id,
            User.is_active.is_(True),
            User.role.in_(CLINICAL_ROLES),
        )
        .order_by(User.full_name, User.id)
    )
    return list(rows)


@router.get("/agenda")
async def agenda(
    request: Request,
    auth: Staff,
    session: DbSession,
    week: Annotated[date | None, Query()] = None,
    therapist: Annotated[str | None, Query(max_length=40)] = None,
) -> HTMLResponse:
    """A week (Monday to Sunday) of sessions; one clinician's or everyone's."""
    zone = practice_zone(auth.organization.timezone)
    day = week or local_today(auth.organization.timezone, utcnow())
    monday = day - timedelta(days=day.weekday())
    start = datetime.combine(monday, time.min, tzinfo=zone)
    end = datetime.combine(monday + timedelta(days=7), time.min, tzinfo=zone)
    people = await clinicians(session, auth)
    chosen = _chosen(auth, people, therapist)
    statement = (
        bookings.readable_bookings(auth)
        .join(Patient, Patient.id == Booking.patient_id)
        .join(Service, Service.id == Booking.service_id)
        .where(Booking.starts_at >= start, Booking.starts_at < end)
        .order_by(Booking.starts_at, Booking.id)
        .with_only_columns(Booking, Patient.full_name, Service.name)
        .limit(WEEK_LIMIT)
    )
    if chosen is not None:
        statement = statement.where(Booking.therapist_id == chosen)
    days: dict[date, list[dict[str, object]]] = {monday + timedelta(days=n): [] for n in range(7)}
    names = {person.id: person.full_name for person in people}
    for booking, patient, service in await session.execute(statement):
        local = booking.starts_at.astimezone(zone)
        days[local.date()].append(
            {
                "id": booking.id,
                "starts": f"{local:%H:%M}",
                "ends": f"{booking.ends_at.astimezone(zone):%H:%M}",
                "patient": patient,
                "service": service,
                "therapist": names.get(booking.therapist_id) if booking.therapist_id else None,
                "status": booking.status.value,
            }
        )
    return render(
        request,
        "agenda.html",
        page="agenda",
        days=days,
        monday=monday,
        previous_week=monday - timedelta(days=7),
        next_week=monday + timedelta(days=7),
        people=people,
        chosen=str(chosen) if chosen else "all",
    )


def _chosen(auth: Authenticated, people: list[User], asked: str | None) -> uuid.UUID | None:
    """The clinician whose week to show: the one asked for, else yourself if you see
    patients, else everyone (None)."""
    if asked == "all":
        return None
    ids = {person.id for person in people}
    try:
        wanted = uuid.UUID(asked) if asked else None
    except ValueError:
        wanted = None
    if wanted in ids:
        return wanted
    return auth.user.id if auth.user.id in ids else None


def _local_start(form_date: object, form_time: object, timezone: str) -> datetime | None:
    """A date and a time typed in the practice's zone, as an aware datetime (None if bad)."""
    try:
        day = date.fromisoformat(str(form_date))
        clock = time.fromisoformat(str(form_time))
    except ValueError:
        return None
    return datetime.combine(day, clock, tzinfo=practice_zone(timezone))


@router.post("/patients/{patient_id}/bookings")
async def book(
    patient_id: uuid.UUID, request: Request, auth: Staff, form: CheckedForm, session: DbSession
) -> Response:
    """Book the patient (from their chart); then that week of the agenda."""
    patient = await get_patient(session, auth, patient_id)
    starts_at = _local_start(form.get("date"), form.get("time"), auth.organization.timezone)
    if starts_at is None:
        return error_page(request, 422, "booking_bad_time")
    therapist = form.get("therapist_id") or None
    try:
        body = BookingCreate.model_validate(
            {
                "patient_id": patient.id,
                "service_id": form.get("service_id"),
                "therapist_id": therapist,
                "starts_at": starts_at,
            }
        )
    except ValidationError:
        return error_page(request, 422, "booking_bad_choice")
    booking = await bookings.create_booking(session, auth, body, settings=settings_of(request))
    await audit_booking(session, auth, AuditAction.BOOKING_CREATED, booking, ip=client_ip(request))
    await queue_booking_email(session, booking.id, "created")
    return redirect(f"{PREFIX}/bookings/{booking.id}")


@router.get("/bookings/{booking_id}")
async def booking_page(
    booking_id: uuid.UUID, request: Request, auth: Staff, session: DbSession
) -> HTMLResponse:
    """One booking: when, who, with whom; move or cancel it."""
    booking = await bookings.get_booking(session, auth, booking_id)
    zone = practice_zone(auth.organization.timezone)
    patient = await session.get_one(Patient, booking.patient_id)
    service = await session.get_one(Service, booking.service_id)
    therapist = await session.get(User, booking.therapist_id) if booking.therapist_id else None
    return render(
        request,
        "booking.html",
        page="agenda",
        booking=booking,
        patient=patient,
        service=service,
        therapist=therapist,
        local=booking.starts_at.astimezone(zone),
        local_end=booking.ends_at.astimezone(zone),
    )


@router.post("/bookings/{booking_id}/move")
async def move(
    booking_id: uuid.UUID, request: Request, auth: Staff, form: CheckedForm, session: DbSession
) -> Response:
    """Move the booking to another day or time (checked like a new one)."""
    booking = await bookings.get_booking(session, auth, booking_id)
    starts_at = _local_start(form.get("date"), form.get("time"), auth.organization.timezone)
    if starts_at is None:
        return error_page(request, 422, "booking_bad_time")
    return await _change(request, auth, session, booking, BookingUpdate(starts_at=starts_at))


@router.post("/bookings/{booking_id}/cancel")
async def cancel(
    booking_id: uuid.UUID, request: Request, auth: Staff, form: CheckedForm, session: DbSession
) -> RedirectResponse:
    """Cancel the booking (paid inside the refund window: refunded automatically)."""
    booking = await bookings.get_booking(session, auth, booking_id)
    update = BookingUpdate(status=BookingStatus.CANCELLED)
    return await _change(request, auth, session, booking, update)


async def _change(
    request: Request,
    auth: Authenticated,
    session: DbSession,
    booking: Booking,
    update: BookingUpdate,
) -> RedirectResponse:
    booking = await bookings.update_booking(session, auth, booking, update)
    fields = sorted(update.model_dump(exclude_unset=True))
    await audit_booking(
        session, auth, AuditAction.BOOKING_UPDATED, booking, ip=client_ip(request), fields=fields
    )
    return redirect(f"{PREFIX}/bookings/{booking.id}")
