"""/api/v1/staff/{user_id}/availability: a therapist's weekly hours, time off and one-off
openings (the owner manages anyone's, a therapist their own, an assistant may read), and
/api/v1/practice/booking-page: the practice's public booking address (the owner sets it)."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Request, Response
from sqlalchemy.exc import IntegrityError

from kura.audit.service import AuditAction, record
from kura.auth.dependencies import CurrentAuth, Owner
from kura.bookings import availability
from kura.bookings.availability_schemas import (
    AvailabilityRead,
    BookingPageRead,
    BookingPageUpdate,
    ExceptionCreate,
    ExceptionRead,
    WeeklyHoursUpdate,
)
from kura.bookings.links import public_base
from kura.bookings.models import AvailabilityException, ExceptionKind
from kura.db.session import DbSession
from kura.errors import Conflict
from kura.handlers import Responses
from kura.orgs.models import Organization
from kura.request_info import client_ip

router = APIRouter(tags=["availability"])
page_router = APIRouter(prefix="/practice", tags=["practice"])
BASE = "/staff/{user_id}/availability"
WRITE: Responses = {
    400: {"description": "That staff member is an assistant: only clinicians have hours"},
    403: {"description": "Only the owner, or the therapist for their own hours"},
    404: {"description": "No such staff member (or entry) in your practice"},
}


@router.get(BASE, response_model=AvailabilityRead, responses={404: WRITE[404]})
async def get_availability(
    user_id: uuid.UUID, auth: CurrentAuth, session: DbSession
) -> AvailabilityRead:
    """A staff member's weekly hours (local time) and upcoming time off and openings (UTC)."""
    user = await availability.staff_member(session, auth, user_id, write=False)
    return await availability.availability(session, auth, user)


@router.put(f"{BASE}/weekly", response_model=AvailabilityRead, responses=WRITE)
async def replace_weekly_hours(
    user_id: uuid.UUID,
    body: WeeklyHoursUpdate,
    auth: CurrentAuth,
    request: Request,
    session: DbSession,
) -> AvailabilityRead:
    """Replace a therapist's whole week of hours (an empty list: no regular hours)."""
    user = await availability.staff_member(session, auth, user_id, write=True)
    await availability.replace_weekly(session, auth, user, body.hours, ip=client_ip(request))
    return await availability.availability(session, auth, user)


@router.post(f"{BASE}/time-off", response_model=ExceptionRead, status_code=201, responses=WRITE)
async def add_time_off(
    user_id: uuid.UUID,
    body: ExceptionCreate,
    auth: CurrentAuth,
    request: Request,
    session: DbSession,
) -> AvailabilityException:
    """Take a range out of a therapist's hours (holidays, a course); existing bookings stay."""
    return await availability.add_exception(
        session, auth, user_id, body, ExceptionKind.TIME_OFF, ip=client_ip(request)
    )


@router.delete(f"{BASE}/time-off/{{entry_id}}", status_code=204, responses=WRITE)
async def remove_time_off(
    user_id: uuid.UUID, entry_id: uuid.UUID, auth: CurrentAuth, request: Request, session: DbSession
) -> Response:
    """Remove a time-off range."""
    await availability.remove_exception(
        session, auth, user_id, entry_id, ExceptionKind.TIME_OFF, ip=client_ip(request)
    )
    return Response(status_code=204)


@router.post(f"{BASE}/openings", response_model=ExceptionRead, status_code=201, responses=WRITE)
async def add_opening(
    user_id: uuid.UUID,
    body: ExceptionCreate,
    auth: CurrentAuth,
    request: Request,
    session: DbSession,
) -> AvailabilityException:
    """Open a one-off range outside the weekly hours (time off still wins over it)."""
    return await availability.add_exception(
        session, auth, user_id, body, ExceptionKind.OPENING, ip=client_ip(request)
    )


@router.delete(f"{BASE}/openings/{{entry_id}}", status_code=204, responses=WRITE)
async def remove_opening(
    user_id: uuid.UUID, entry_id: uuid.UUID, auth: CurrentAuth, request: Request, session: DbSession
) -> Response:
    """Remove a one-off opening."""
    await availability.remove_exception(
        session, auth, user_id, entry_id, ExceptionKind.OPENING, ip=client_ip(request)
    )
    return Response(status_code=204)


def _page(request: Request, organization: Organization) -> BookingPageRead:
    if organization.slug is None:
        return BookingPageRead(slug=None, services_url=None)
    base = public_base(request.app.state.settings)
    return BookingPageRead(
        slug=organization.slug,
        services_url=f"{base}/api/v1/public/booking/{organization.slug}/services",
    )


@page_router.get("/booking-page", response_model=BookingPageRead)
async def get_booking_page(
    auth: CurrentAuth, request: Request, session: DbSession
) -> BookingPageRead:
    """The practice's public booking address (its slug)."""
    return _page(request, await session.get_one(Organization, auth.user.organization_id))


@page_router.put(
    "/booking-page",
    response_model=BookingPageRead,
    responses={
        403: {"description": "Not the practice owner"},
        409: {"description": "Another practice has that slug"},
    },
)
async def set_booking_page(
    body: BookingPageUpdate, auth: Owner, request: Request, session: DbSession
) -> BookingPageRead:
    """Choose the practice's slug (old public addresses stop working; manage links do not)."""
    organization = await session.get_one(Organization, auth.user.organization_id)
    organization.slug = body.slug
    try:
        async with session.begin_nested():
            await session.flush()
    except IntegrityError:
        raise Conflict("Another practice already uses that address. Choose another.") from None
    await record(
        session,
        AuditAction.BOOKING_PAGE_UPDATED,
        organization_id=organization.id,
        actor_id=auth.user.id,
        target_type="organization",
        target_id=organization.id,
        ip=client_ip(request),
        details={"slug": body.slug},
    )
    return _page(request, organization)
