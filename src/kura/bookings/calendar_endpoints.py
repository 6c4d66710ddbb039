"""/api/v1/calendar-feed: a clinician's private, revocable calendar address (subscribe to it in
any calendar app), and /api/v1/public/calendar/{token}.ics: the feed itself, without sign-in.

The feed shows the clinician's own bookings from 30 days back to a year ahead, each as the
service and the patient's initials — never a name, contact or note: a calendar app syncs to
phones and clouds the practice does not control."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, Field
from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert

from kura.audit.service import AuditAction, record
from kura.auth.dependencies import CurrentAuth
from kura.bookings import public
from kura.bookings.ics import CalendarEntry, calendar
from kura.bookings.links import public_base
from kura.bookings.models import Booking, BookingStatus, CalendarFeed, Service
from kura.db.base import utcnow
from kura.db.session import DbSession, get_database
from kura.errors import Forbidden, NotFound
from kura.handlers import Responses
from kura.patients.models import Patient
from kura.request_info import client_ip
from kura.users.models import Role, User

router = APIRouter(tags=["calendar"])
FEED_PATH = "/public/calendar"
PAST, AHEAD = timedelta(days=30), timedelta(days=365)
CLINICIANS: Responses = {403: {"description": "Assistants have no bookings of their own"}}


class CalendarFeedCreated(BaseModel):
    url: str = Field(description="Secret: anyone with it reads the calendar. Shown once.")


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def initials(full_name: str) -> str:
    """ "María José Núñez" → "M. J. N." (what a calendar may show of a patient)."""
    return " ".join(f"{part[0].upper()}." for part in full_name.split() if part[:1].isalpha())


@router.post(
    "/calendar-feed", response_model=CalendarFeedCreated, status_code=201, responses=CLINICIANS
)
async def create_calendar_feed(
    request: Request, auth: CurrentAuth, session: DbSession
) -> CalendarFeedCreated:
    """A new private calendar address for your bookings (the previous one stops working)."""
    if auth.user.role == Role.ASSISTANT:
        raise Forbidden("Assistants have no bookings of their own to follow.")
    token = secrets.token_urlsafe(32)
    values = {"user_id": auth.user.id, "token_hash": _hash(token), "created_at": utcnow()}
    await session.execute(
        insert(CalendarFeed)
        .values(**values)
        .on_conflict_do_update(index_elements=["user_id"], set_=values)
    )
    await record(
        session,
        AuditAction.CALENDAR_FEED_CREATED,
        organization_id=auth.user.organization_id,
        actor_id=auth.user.id,
        target_type="user",
        target_id=auth.user.id,
        ip=client_ip(request),
    )
    settings = request.app.state.settings
    return CalendarFeedCreated(url=f"{public_base(settings)}/api/v1{FEED_PATH}/{token}.ics")


@router.delete(
    "/calendar-feed",
    status_code=204,
    response_class=Response,
    responses={404: {"description": "You have no calendar address"}},
)
async def revoke_calendar_feed(request: Request, auth: CurrentAuth, session: DbSession) -> Response:
    """Revoke your calendar address: calendars subscribed to it stop updating."""
    gone = await session.scalar(
        delete(CalendarFeed)
        .where(CalendarFeed.user_id == auth.user.id)
        .returning(CalendarFeed.user_id)
    )
    if gone is None:
        raise NotFound("You have no calendar address.")
    await record(
        session,
        AuditAction.CALENDAR_FEED_REVOKED,
        organization_id=auth.user.organization_id,
        actor_id=auth.user.id,
        target_type="user",
        target_id=auth.user.id,
        ip=client_ip(request),
    )
    return Response(status_code=204)


@router.get(
    FEED_PATH + "/{token}.ics",
    response_class=Response,
    responses={
        200: {
            "content": {"text/calendar": {"schema": {"type": "string"}}},
            "description": "The clinician's bookings as iCalendar",
        },
        404: {"description": "No such calendar address (or it was revoked)"},
        429: {"description": "Too many requests from here: wait (Retry-After)"},
    },
)
async def calendar_feed(token: str, request: Request, session: DbSession) -> Response:
    """A clinician's bookings as an iCalendar feed: service and patient initials only."""
    await public.spend_for_ip(get_database(request), public.READS_PER_IP, client_ip(request))
    user = await session.scalar(
        select(User)
        .join(CalendarFeed, CalendarFeed.user_id == User.id)
        .where(CalendarFeed.token_hash == _hash(token), User.is_active.is_(True))
    )
    if user is None:
        raise NotFound("No such calendar address.")
    now = utcnow()
    rows = await session.execute(
        select(Booking, Service.name, Patient.full_name)
        .join(Service, Service.id == Booking.service_id)
        .join(Patient, Patient.id == Booking.patient_id)
        .where(
            Booking.organization_id == user.organization_id,
            Booking.therapist_id == user.id,
            Booking.starts_at >= now - PAST,
            Booking.starts_at <= now + AHEAD,
            Booking.status != BookingStatus.PENDING,
            Patient.restricted_at.is_(None),
        )
        .order_by(Booking.starts_at, Booking.id)
    )
    entries = [
        CalendarEntry(booking, f"{service} · {initials(name)}") for booking, service, name in rows
    ]
    body = calendar(entries, method=None, name="KURA OS")
    return Response(
        body,
        media_type="text/calendar; charset=utf-8",
        headers={"Cache-Control": "private, no-store", "Referrer-Policy": "no-referrer"},
    )
