"""/api/v1/public/booking: a practice's online services, free slots and self-booking (no
sign-in), and /api/v1/public/booking/manage/{token}: the patient's link to view, cancel or
move a booking."""

from __future__ import annotations

import uuid
from dataclasses import asdict
from datetime import date, timedelta
from typing import Annotated

from fastapi import APIRouter, Query, Request
from sqlalchemy.ext.asyncio import AsyncSession

from kura.bookings import public
from kura.bookings.links import manage_token, manage_url
from kura.bookings.models import Booking, Service
from kura.bookings.public_schemas import (
    CheckoutStarted,
    PublicBookingCreate,
    PublicBookingRead,
    PublicPractice,
    PublicService,
    PublicServices,
    PublicSlot,
    PublicSlots,
    RescheduleBody,
)
from kura.bookings.slots import MAX_RANGE_DAYS, compute_slots
from kura.briefings.content import local_today
from kura.db.base import utcnow
from kura.db.session import DbSession, get_database
from kura.errors import BadRequest
from kura.handlers import Responses
from kura.orgs.models import Organization
from kura.request_info import client_ip

router = APIRouter(prefix="/public/booking", tags=["public-booking"])
THROTTLED: Responses = {429: {"description": "Too many requests from here: wait (Retry-After)"}}
NO_PRACTICE: Responses = {404: {"description": "No such practice, or no such online service"}}
NO_LINK: Responses = {404: {"description": "The link is not valid"}}
REFUSED: Responses = {
    409: {
        "description": "The time is not available or was just taken; or the change is outside "
        "the cancellation window (the deadline is in the message), or the booking is cancelled"
    }
}


async def _read(
    session: AsyncSession,
    booking: Booking,
    service: Service,
    organization: Organization,
    token: str | None = None,
) -> PublicBookingRead:
    return PublicBookingRead(
        payment_due=await public.payment_due(session, booking),
        status=booking.status,
        starts_at=booking.starts_at,
        ends_at=booking.ends_at,
        hold_expires_at=booking.hold_expires_at,
        service=PublicService.model_validate(service),
        practice=PublicPractice.model_validate(organization),
        changes_allowed_until=public.changes_allowed_until(booking, service),
        manage_token=token,
    )


@router.get("/manage/{token}", response_model=PublicBookingRead, responses={**NO_LINK, **THROTTLED})
async def view_booking(token: str, request: Request, session: DbSession) -> PublicBookingRead:
    """The booking behind a manage link: service, time, practice and status only."""
    await public.spend_for_ip(get_database(request), public.READS_PER_IP, client_ip(request))
    return await _read(session, *await public.by_token(session, token))


@router.post(
    "/manage/{token}/cancel",
    response_model=PublicBookingRead,
    responses={**NO_LINK, **REFUSED, **THROTTLED},
)
async def cancel_booking(token: str, request: Request, session: DbSession) -> PublicBookingRead:
    """Cancel by link, until the service's cancellation window (the staff are emailed)."""
    ip = client_ip(request)
    await public.spend_for_ip(get_database(request), public.CHANGES_PER_IP, ip)
    booking, service, organization = await public.by_token(session, token, lock=True)
    await public.cancel(session, booking, service, organization, ip=ip)
    return await _read(session, booking, service, organization)


@router.post(
    "/manage/{token}/reschedule",
    response_model=PublicBookingRead,
    responses={**NO_LINK, **REFUSED, **THROTTLED},
)
async def reschedule_booking(
    token: str, body: RescheduleBody, request: Request, session: DbSession
) -> PublicBookingRead:
    """Move by link to another free slot of the same therapist, within the window."""
    ip = client_ip(request)
    await public.spend_for_ip(get_database(request), public.CHANGES_PER_IP, ip)
    booking, service, organization = await public.by_token(session, token, lock=True)
    await public.reschedule(session, booking, service, organization, body.starts_at, ip=ip)
    return await _read(session, booking, service, organization)


@router.post(
    "/manage/{token}/checkout",
    response_model=CheckoutStarted,
    responses={
        **NO_LINK,
        **THROTTLED,
        400: {"description": "The booking is free: nothing to pay"},
        409: {
            "description": "Cancelled, already paid, or the practice cannot take online "
            "payments yet"
        },
        502: {"description": "Stripe could not create the checkout"},
        503: {"description": "Payments are not configured on this server"},
    },
)
async def checkout_booking(token: str, request: Request, session: DbSession) -> CheckoutStarted:
    """Pay an unpaid booking on Stripe Checkout; starting it keeps the slot held meanwhile."""
    from kura.payments.booking_checkout import start_checkout

    ip = client_ip(request)
    await public.spend_for_ip(get_database(request), public.CHANGES_PER_IP, ip)
    booking, service, organization = await public.by_token(session, token, lock=True)
    settings = request.app.state.settings
    url = await start_checkout(
        session,
        settings,
        booking,
        service,
        organization,
        return_url=manage_url(settings, booking.id),
        ip=ip,
    )
    return CheckoutStarted(url=url)


@router.get(
    "/{practice_slug}/services",
    response_model=PublicServices,
    responses={**NO_PRACTICE, **THROTTLED},
)
async def public_services(
    practice_slug: str, request: Request, session: DbSession
) -> PublicServices:
    """The services a practice offers online, by name."""
    await public.spend_for_ip(get_database(request), public.READS_PER_IP, client_ip(request))
    organization = await public.practice_by_slug(session, practice_slug)
    services = await session.scalars(
        public.online_services(organization).order_by(Service.name, Service.id)
    )
    return PublicServices(
        practice=PublicPractice.model_validate(organization),
        services=[PublicService.model_validate(s) for s in services],
    )


@router.get(
    "/{practice_slug}/slots",
    response_model=PublicSlots,
    responses={
        **NO_PRACTICE,
        **THROTTLED,
        400: {"description": f"No service_id, or a range over {MAX_RANGE_DAYS} days"},
    },
)
async def public_slots(
    practice_slug: str,
    request: Request,
    session: DbSession,
    service_id: Annotated[uuid.UUID | None, Query(description="Required")] = None,
    from_date: Annotated[
        date | None, Query(alias="from", description="Local date (default today)")
    ] = None,
    to_date: Annotated[
        date | None, Query(alias="to", description="Local date, included (default from + 6)")
    ] = None,
    therapist_id: uuid.UUID | None = None,
) -> PublicSlots:
    """Free start times of a service between two local dates (at most 31 days), in UTC."""
    await public.spend_for_ip(get_database(request), public.READS_PER_IP, client_ip(request))
    # The practice first, then the parameters: an unknown address is 404 whatever is asked.
    organization = await public.practice_by_slug(session, practice_slug)
    if service_id is None:
        raise BadRequest("service_id is required.")
    first = from_date or local_today(organization.timezone, utcnow())
    last = to_date or first + timedelta(days=6)
    if last < first:
        raise BadRequest("to must not be before from.")
    if (last - first).days + 1 > MAX_RANGE_DAYS:
        raise BadRequest(f"Ask for at most {MAX_RANGE_DAYS} days at a time.")
    service = await public.online_service(session, organization, service_id)
    slots = await compute_slots(
        session,
        organization=organization,
        service=service,
        first=first,
        last=last,
        now=utcnow(),
        therapist_id=therapist_id,
    )
    return PublicSlots(
        service_id=service.id,
        timezone=organization.timezone,
        from_date=first,
        to_date=last,
        slots=[PublicSlot(**asdict(slot)) for slot in slots],
    )


@router.post(
    "/{practice_slug}/bookings",
    response_model=PublicBookingRead,
    status_code=201,
    responses={**NO_PRACTICE, **THROTTLED, **REFUSED},
)
async def create_public_booking(
    practice_slug: str, body: PublicBookingCreate, request: Request, session: DbSession
) -> PublicBookingRead:
    """Book a free slot: CONFIRMED when free, else PENDING and held for BOOKING_HOLD_MINUTES."""
    ip = client_ip(request)
    await public.spend_for_ip(get_database(request), public.BOOKINGS_PER_IP, ip)
    organization = await public.practice_by_slug(session, practice_slug)
    settings = request.app.state.settings
    booking, service = await public.book(session, settings, organization, body, ip=ip)
    return await _read(session, booking, service, organization, manage_token(settings, booking.id))
