"""/api/v1/services and /api/v1/bookings: the agenda is for every staff role (assistants
schedule); defining services is for clinical staff."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from kura.audit.service import AuditAction
from kura.auth.dependencies import ClinicalStaff, CurrentAuth
from kura.auth.sessions import Authenticated
from kura.bookings import service as bookings
from kura.bookings.audit import audit_booking
from kura.bookings.models import Booking, Service
from kura.bookings.schemas import (
    BookingCreate,
    BookingPage,
    BookingRead,
    BookingUpdate,
    ServiceCreate,
    ServicePage,
    ServiceRead,
    ServiceUpdate,
)
from kura.briefings.content import local_today
from kura.db.base import utcnow
from kura.db.session import DbSession
from kura.errors import Conflict
from kura.handlers import Responses
from kura.pagination import Pagination, paginate
from kura.request_info import client_ip

router = APIRouter(tags=["bookings"])
MISSING: Responses = {404: {"description": "Not in your practice"}}
FULL: Responses = {
    409: {"description": "The time is full for this service, or the therapist is busy then"}
}
BAD_THERAPIST: Responses = {
    400: {"description": "therapist_id is not an active clinician of your practice"}
}


async def _audit(
    session: DbSession,
    auth: Authenticated,
    request: Request,
    action: AuditAction,
    booking: Booking,
    **details: object,
) -> None:
    await audit_booking(session, auth, action, booking, ip=client_ip(request), **details)


@router.get("/services", response_model=ServicePage)
async def list_services(auth: CurrentAuth, session: DbSession, pages: Pagination) -> ServicePage:
    """Your practice's services, by name (withdrawn ones included, `active: false`)."""
    statement = bookings.readable_services(auth).order_by(Service.name, Service.id)
    rows, total = await paginate(session, statement, pages)
    return ServicePage.of(rows, total, pages)


@router.post("/services", response_model=ServiceRead, status_code=201)
async def create_service(body: ServiceCreate, auth: ClinicalStaff, session: DbSession) -> Service:
    """Offer a service (name, duration, price in cents, currency, capacity)."""
    service = Service(organization_id=auth.user.organization_id, active=True, **body.model_dump())
    session.add(service)
    await session.flush()
    return service


@router.get("/services/{service_id}", response_model=ServiceRead, responses=MISSING)
async def get_service(service_id: uuid.UUID, auth: CurrentAuth, session: DbSession) -> Service:
    """One service."""
    return await bookings.get_service(session, auth, service_id)


@router.patch("/services/{service_id}", response_model=ServiceRead, responses=MISSING)
async def update_service(
    service_id: uuid.UUID, body: ServiceUpdate, auth: ClinicalStaff, session: DbSession
) -> Service:
    """Change a service (existing bookings keep their price)."""
    service = await bookings.get_service(session, auth, service_id)
    for field, value in body.model_dump(exclude_unset=True, exclude_none=True).items():
        setattr(service, field, value)
    await session.flush()
    await session.refresh(service)
    return service


@router.delete("/services/{service_id}", status_code=204, responses=MISSING)
async def delete_service(
    service_id: uuid.UUID, auth: ClinicalStaff, session: DbSession
) -> Response:
    """Withdraw a service: deactivated (its bookings remain)."""
    service = await bookings.get_service(session, auth, service_id)
    service.active = False
    await session.flush()
    return Response(status_code=204)


@router.get("/bookings", response_model=BookingPage)
async def list_bookings(
    auth: CurrentAuth,
    session: DbSession,
    pages: Pagination,
    day: Annotated[
        date | None, Query(alias="date", description="Local date (default today)")
    ] = None,
) -> BookingPage:
    """A day's agenda in your practice's timezone, by start time."""
    when = day or local_today(auth.organization.timezone, utcnow())
    rows, total = await paginate(session, bookings.agenda(auth, when), pages)
    return BookingPage.of(rows, total, pages)


@router.post(
    "/bookings",
    response_model=BookingRead,
    status_code=201,
    responses={
        **FULL,
        400: {"description": "The service is withdrawn, or a wrong therapist_id"},
        404: {"description": "No such patient or service in your practice"},
    },
)
async def create_booking(
    body: BookingCreate, auth: CurrentAuth, request: Request, session: DbSession
) -> Booking:
    """Book a patient (409 when the service is full or the therapist busy at that time)."""
    from kura.bookings.tasks import queue_booking_email

    booking = await bookings.create_booking(
        session, auth, body, settings=request.app.state.settings
    )
    await _audit(session, auth, request, AuditAction.BOOKING_CREATED, booking)
    await queue_booking_email(session, booking.id, "created")
    return booking


@router.get("/bookings/{booking_id}", response_model=BookingRead, responses=MISSING)
async def get_booking(booking_id: uuid.UUID, auth: CurrentAuth, session: DbSession) -> Booking:
    """One booking."""
    return await bookings.get_booking(session, auth, booking_id)


@router.patch(
    "/bookings/{booking_id}",
    response_model=BookingRead,
    responses={**MISSING, **FULL, **BAD_THERAPIST},
)
async def update_booking(
    booking_id: uuid.UUID,
    body: BookingUpdate,
    auth: CurrentAuth,
    request: Request,
    session: DbSession,
) -> Booking:
    """Move, reassign, or change the status of a booking."""
    booking = await bookings.get_booking(session, auth, booking_id)
    booking = await bookings.update_booking(session, auth, booking, body)
    fields = sorted(body.model_dump(exclude_unset=True))
    await _audit(session, auth, request, AuditAction.BOOKING_UPDATED, booking, fields=fields)
    return booking


@router.delete(
    "/bookings/{booking_id}",
    status_code=204,
    responses={**MISSING, 409: {"description": "Paid: cancel it instead"}},
)
async def delete_booking(
    booking_id: uuid.UUID, auth: CurrentAuth, request: Request, session: DbSession
) -> Response:
    """Delete a booking that was never paid (paid ones are cancelled instead)."""
    from kura.payments.models import Payment, PaymentStatus

    booking = await bookings.get_booking(session, auth, booking_id)
    paid = await session.scalar(
        Payment.__table__.select()
        .where(Payment.booking_id == booking.id, Payment.status == PaymentStatus.SUCCEEDED)
        .limit(1)
    )
    if paid is not None:
        raise Conflict("This booking has been paid: cancel it instead of deleting it.")
    await _audit(session, auth, request, AuditAction.BOOKING_DELETED, booking)
    await session.delete(booking)
    await session.flush()
    return Response(status_code=204)
