"""Self-booking without an account, and changes by manage link. The answers say nothing about
other bookings or patients: a patient is matched or created silently, and a refused time is
"not available" whatever the reason."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from sqlalchemy import Select, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from kura.audit.service import AuditAction, record
from kura.auth import throttle
from kura.bookings import service as bookings
from kura.bookings.holds import release_expired
from kura.bookings.links import manage_token_hash
from kura.bookings.models import (
    ACTIVE_STATUSES,
    Booking,
    BookingSource,
    BookingStatus,
    Service,
)
from kura.bookings.public_schemas import PublicBookingCreate
from kura.bookings.slots import Slot, compute_slots
from kura.briefings.content import practice_zone
from kura.config import Settings
from kura.db.base import utcnow
from kura.db.engine import Database
from kura.errors import Conflict, NotFound
from kura.orgs.models import Organization
from kura.patients.models import Patient

# Per IP. Generous enough for a family booking together behind one address; the counter lives
# in its own short transaction (see spend_for_ip).
BOOKINGS_PER_IP = throttle.Limit(
    "public-booking-ip", 30, timedelta(minutes=10), timedelta(minutes=10)
)
READS_PER_IP = throttle.Limit("public-read-ip", 300, timedelta(minutes=10), timedelta(minutes=10))
CHANGES_PER_IP = throttle.Limit(
    "public-change-ip", 30, timedelta(minutes=10), timedelta(minutes=10)
)
UNAVAILABLE = "That time is not available. Choose another time from the list."
TAKEN = "That time was just taken. Choose another time."
BUSY_DETAILS = "Another booking with these details is being made right now. Try again."


async def spend_for_ip(database: Database, limit: throttle.Limit, ip: str | None) -> None:
    """Count one attempt (429 while locked) in a transaction of its own: a refused booking
    still counts, and racing requests do not queue behind each other's throttle row."""
    if ip is None:
        return
    async with database.sessionmaker() as session, session.begin():
        await throttle.spend(session, limit, ip, now=utcnow())


async def practice_by_slug(session: AsyncSession, slug: str) -> Organization:
    organization = await session.scalar(
        select(Organization).where(
            Organization.slug == slug.lower(), Organization.closure_requested_at.is_(None)
        )
    )
    if organization is None:
        raise NotFound("No such practice.")
    return organization


def online_services(organization: Organization) -> Select[Service]:
    return select(Service).where(
        Service.organization_id == organization.id,
        Service.active.is_(True),
        Service.bookable_online.is_(True),
    )


async def online_service(
    session: AsyncSession, organization: Organization, service_id: uuid.UUID, *, lock: bool = False
) -> Service:
    statement = online_services(organization).where(Service.id == service_id)
    service = await session.scalar(statement.with_for_update() if lock else statement)
    if service is None:
        raise NotFound("No such service.")
    return service


def changes_allowed_until(booking: Booking, service: Service) -> datetime:
    return booking.starts_at - timedelta(hours=service.cancellation_window_hours)


async def free_slot(
    session: AsyncSession,
    organization: Organization,
    service: Service,
    starts_at: datetime,
    *,
    therapist_id: uuid.UUID | None,
    now: datetime,
    ignore_booking: uuid.UUID | None = None,
) -> Slot:
    """The offered slot starting exactly then (the first free therapist's), or 409."""
    day = starts_at.astimezone(practice_zone(organization.timezone)).date()
    for slot in await compute_slots(
        session,
        organization=organization,
        service=service,
        first=day,
        last=day,
        now=now,
        therapist_id=therapist_id,
        ignore_booking=ignore_booking,
    ):
        if slot.starts_at == starts_at:
            return slot
    raise Conflict(UNAVAILABLE)


async def _match_or_create_patient(
    session: AsyncSession, organization: Organization, body: PublicBookingCreate
) -> Patient:
    """An active patient of this practice with that email (first) or phone; else a new one.
    Nothing the form says overwrites a matched record (anyone can type an email)."""
    email = body.email.strip().lower()
    email_match = func.lower(Patient.email) == email
    conditions = [email_match] + ([Patient.phone == body.phone] if body.phone else [])
    patient = await session.scalar(
        select(Patient)
        .where(
            Patient.organization_id == organization.id,
            Patient.restricted_at.is_(None),
            or_(*conditions),
        )
        .order_by(email_match.desc(), Patient.created_at, Patient.id)
        .limit(1)
    )
    if patient is not None:
        return patient
    phone = body.phone
    if phone is not None:
        # Only a restricted (deleted) record can hold it now: it is never matched, and the new
        # record leaves the phone out rather than collide with it.
        held = await session.scalar(
            select(Patient.id).where(
                Patient.organization_id == organization.id, Patient.phone == phone
            )
        )
        phone = None if held is not None else phone
    patient = Patient(
        organization_id=organization.id,
        full_name=body.full_name,
        email=email,
        phone=phone,
        language=organization.locale if organization.locale in ("es", "en") else "es",
    )
    session.add(patient)
    try:
        async with session.begin_nested():
            await session.flush()
    except IntegrityError:
        raise Conflict(BUSY_DETAILS) from None
    await record(
        session,
        AuditAction.PATIENT_CREATED,
        organization_id=organization.id,
        actor_id=None,
        target_type="patient",
        target_id=patient.id,
        details={"source": "public_booking"},
    )
    return patient


async def _take_group_place(
    session: AsyncSession,
    organization: Organization,
    service: Service,
    booking: Booking,
    *,
    ignore: uuid.UUID | None = None,
) -> None:
    """A group session's places are counted under the service's row lock; the constraint
    cannot count (it only keeps other sessions out)."""
    if service.capacity > 1:
        await session.execute(select(Service.id).where(Service.id == service.id).with_for_update())
        try:
            await bookings.check_capacity(
                session,
                service,
                booking.starts_at,
                booking.ends_at,
                therapist_id=booking.therapist_id,
                ignore=ignore,
            )
        except Conflict:
            raise Conflict(TAKEN) from None


async def book(
    session: AsyncSession,
    settings: Settings,
    organization: Organization,
    body: PublicBookingCreate,
    *,
    ip: str | None,
) -> tuple[Booking, Service]:
    """A booking of an offered slot: PENDING with a hold when the service is paid, else
    CONFIRMED. Two requests for one therapist's time: the database lets one through."""
    from kura.bookings.tasks import queue_booking_email

    now = utcnow()
    service = await online_service(session, organization, body.service_id)
    slot = await free_slot(
        session, organization, service, body.starts_at, therapist_id=body.therapist_id, now=now
    )
    await release_expired(session, therapist_id=slot.therapist_id, now=now)
    patient = await _match_or_create_patient(session, organization, body)
    paid = service.price_cents > 0
    booking = Booking(
        id=uuid.uuid4(),
        organization_id=organization.id,
        patient_id=patient.id,
        service_id=service.id,
        therapist_id=slot.therapist_id,
        status=BookingStatus.PENDING if paid else BookingStatus.CONFIRMED,
        amount_cents=service.price_cents,
        currency=service.currency,
        source=BookingSource.PUBLIC,
        hold_expires_at=now + timedelta(minutes=settings.booking_hold_minutes) if paid else None,
        privacy_accepted_at=now,
    )
    bookings.set_times(booking, service, slot.starts_at)
    await _take_group_place(session, organization, service, booking)
    bookings.give_manage_token(settings, booking)
    session.add(booking)
    await bookings.flush_booking(session, TAKEN)
    await record(
        session,
        AuditAction.BOOKING_CREATED,
        organization_id=organization.id,
        actor_id=None,
        target_type="booking",
        target_id=booking.id,
        ip=ip,
        details={"source": "public", "status": booking.status.value},
    )
    await queue_booking_email(session, booking.id, "created")
    return booking, service


async def by_token(
    session: AsyncSession, token: str, *, lock: bool = False
) -> tuple[Booking, Service, Organization]:
    if not 20 <= len(token) <= 64:
        raise NotFound("This link is not valid.")
    statement = (
        select(Booking, Service, Organization)
        .join(Service, Service.id == Booking.service_id)
        .join(Organization, Organization.id == Booking.organization_id)
        .where(Booking.manage_token_hash == manage_token_hash(token))
    )
    if lock:
        statement = statement.with_for_update(of=Booking)
    row = (await session.execute(statement)).one_or_none()
    if row is None:
        raise NotFound("This link is not valid.")
    booking, service, organization = row
    expired = booking.hold_expires_at is not None and booking.hold_expires_at <= utcnow()
    if booking.status == BookingStatus.PENDING and expired and booking.therapist_id is not None:
        await release_expired(session, therapist_id=booking.therapist_id)
        await session.refresh(booking)
    return booking, service, organization


def _check_changeable(booking: Booking, service: Service, organization: Organization) -> None:
    if booking.status not in ACTIVE_STATUSES or booking.status == BookingStatus.COMPLETED:
        raise Conflict(f"This booking is {booking.status.value.lower()}: it cannot be changed.")
    deadline = changes_allowed_until(booking, service)
    if utcnow() > deadline:
        local = deadline.astimezone(practice_zone(organization.timezone))
        raise Conflict(
            "Changes by link were possible until "
            f"{local:%d/%m/%Y %H:%M} ({organization.timezone}). Contact the practice."
        )


async def _audit_change(
    session: AsyncSession, action: AuditAction, booking: Booking, ip: str | None, **details: str
) -> None:
    await record(
        session,
        action,
        organization_id=booking.organization_id,
        actor_id=None,
        target_type="booking",
        target_id=booking.id,
        ip=ip,
        details={"status": booking.status.value, **details},
    )


async def cancel(
    session: AsyncSession,
    booking: Booking,
    service: Service,
    organization: Organization,
    *,
    ip: str | None,
) -> None:
    from kura.bookings.tasks import queue_booking_email
    from kura.payments.tasks import queue_refund_if_paid

    _check_changeable(booking, service, organization)
    booking.status = BookingStatus.CANCELLED
    booking.cancelled_at = utcnow()
    await session.flush()
    await _audit_change(session, AuditAction.BOOKING_CANCELLED_BY_LINK, booking, ip)
    await queue_booking_email(session, booking.id, "cancelled_by_link")
    # Cancelling by link is only possible inside the window, so a payment always goes back.
    await queue_refund_if_paid(session, booking.id)


async def reschedule(
    session: AsyncSession,
    booking: Booking,
    service: Service,
    organization: Organization,
    starts_at: datetime,
    *,
    ip: str | None,
) -> None:
    from kura.bookings.tasks import queue_booking_email

    _check_changeable(booking, service, organization)
    if booking.therapist_id is None:
        raise Conflict("This booking has no therapist yet: contact the practice to move it.")
    slot = await free_slot(
        session,
        organization,
        service,
        starts_at,
        therapist_id=booking.therapist_id,
        now=utcnow(),
        ignore_booking=booking.id,
    )
    zone = practice_zone(organization.timezone)
    before = f"{booking.starts_at.astimezone(zone):%d/%m/%Y %H:%M}"
    bookings.set_times(booking, service, slot.starts_at)
    await _take_group_place(session, organization, service, booking, ignore=booking.id)
    await bookings.flush_booking(session, TAKEN)
    await _audit_change(session, AuditAction.BOOKING_RESCHEDULED_BY_LINK, booking, ip)
    await queue_booking_email(session, booking.id, "rescheduled_by_link", before=before)


async def payment_due(session: AsyncSession, booking: Booking) -> bool:
    """An active, priced booking with no succeeded payment: the patient can pay online."""
    from kura.payments.models import Payment, PaymentStatus

    if booking.amount_cents <= 0 or booking.status not in ACTIVE_STATUSES:
        return False
    paid = await session.scalar(
        select(Payment.id).where(
            Payment.booking_id == booking.id, Payment.status == PaymentStatus.SUCCEEDED
        )
    )
    return paid is None
