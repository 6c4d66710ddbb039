"""A clinician's availability, for the API and the workspace: who may change whose hours,
reading them, replacing the week, adding and removing time off and openings (audited)."""

from __future__ import annotations

import uuid

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from kura.audit.service import AuditAction, record
from kura.auth.sessions import Authenticated
from kura.bookings.availability_schemas import (
    AvailabilityRead,
    ExceptionCreate,
    ExceptionRead,
    WeeklyHoursEntry,
    WeeklyHoursRead,
)
from kura.bookings.models import AvailabilityException, ExceptionKind, WeeklyHours
from kura.db.base import utcnow
from kura.errors import BadRequest, Forbidden, NotFound
from kura.users.models import Role, User


async def staff_member(
    session: AsyncSession, auth: Authenticated, user_id: uuid.UUID, *, write: bool
) -> User:
    user = await session.scalar(
        select(User).where(User.id == user_id, User.organization_id == auth.user.organization_id)
    )
    if user is None:
        raise NotFound("No such staff member.")
    if write:
        if not (auth.user.role == Role.OWNER or auth.user.id == user.id):
            raise Forbidden("Only the owner, or the therapist themself, can change these hours.")
        if not user.is_clinical:
            raise BadRequest("Only owners and therapists have hours.")
    return user


async def _audit(
    session: AsyncSession, auth: Authenticated, user: User, change: str, *, ip: str | None
) -> None:
    await record(
        session,
        AuditAction.AVAILABILITY_UPDATED,
        organization_id=auth.user.organization_id,
        actor_id=auth.user.id,
        target_type="user",
        target_id=user.id,
        ip=ip,
        details={"change": change},
    )


async def availability(session: AsyncSession, auth: Authenticated, user: User) -> AvailabilityRead:
    hours = await session.scalars(
        select(WeeklyHours)
        .where(
            WeeklyHours.organization_id == user.organization_id, WeeklyHours.therapist_id == user.id
        )
        .order_by(WeeklyHours.weekday, WeeklyHours.starts_at)
    )
    entries = list(
        await session.scalars(
            select(AvailabilityException)
            .where(
                AvailabilityException.organization_id == user.organization_id,
                AvailabilityException.therapist_id == user.id,
                AvailabilityException.ends_at > utcnow(),
            )
            .order_by(AvailabilityException.starts_at, AvailabilityException.id)
        )
    )
    return AvailabilityRead(
        therapist_id=user.id,
        timezone=auth.organization.timezone,
        weekly=[WeeklyHoursRead.model_validate(h) for h in hours],
        time_off=[
            ExceptionRead.model_validate(e) for e in entries if e.kind == ExceptionKind.TIME_OFF
        ],
        openings=[
            ExceptionRead.model_validate(e) for e in entries if e.kind == ExceptionKind.OPENING
        ],
    )


async def add_exception(
    session: AsyncSession,
    auth: Authenticated,
    user_id: uuid.UUID,
    body: ExceptionCreate,
    kind: ExceptionKind,
    *,
    ip: str | None,
) -> AvailabilityException:
    user = await staff_member(session, auth, user_id, write=True)
    entry = AvailabilityException(
        organization_id=user.organization_id,
        therapist_id=user.id,
        kind=kind,
        starts_at=body.starts_at,
        ends_at=body.ends_at,
        note=body.note,
    )
    session.add(entry)
    await session.flush()
    await _audit(session, auth, user, f"{kind.value.lower()}_added", ip=ip)
    return entry


async def remove_exception(
    session: AsyncSession,
    auth: Authenticated,
    user_id: uuid.UUID,
    entry_id: uuid.UUID,
    kind: ExceptionKind,
    *,
    ip: str | None,
) -> None:
    user = await staff_member(session, auth, user_id, write=True)
    entry = await session.scalar(
        select(AvailabilityException).where(
            AvailabilityException.id == entry_id,
            AvailabilityException.organization_id == user.organization_id,
            AvailabilityException.therapist_id == user.id,
            AvailabilityException.kind == kind,
        )
    )
    if entry is None:
        raise NotFound("No such entry.")
    await session.delete(entry)
    await session.flush()
    await _audit(session, auth, user, f"{kind.value.lower()}_removed", ip=ip)


async def replace_weekly(
    session: AsyncSession,
    auth: Authenticated,
    user: User,
    hours: list[WeeklyHoursEntry],
    *,
    ip: str | None,
) -> None:
    """The clinician's whole week of hours (an empty list: no regular hours)."""
    await session.execute(
        delete(WeeklyHours).where(
            WeeklyHours.organization_id == user.organization_id, WeeklyHours.therapist_id == user.id
        )
    )
    session.add_all(
        WeeklyHours(
            organization_id=user.organization_id,
            therapist_id=user.id,
            weekday=entry.weekday,
            starts_at=entry.starts_at,
            ends_at=entry.ends_at,
        )
        for entry in hours
    )
    await session.flush()
    await _audit(session, auth, user, "weekly_hours", ip=ip)
