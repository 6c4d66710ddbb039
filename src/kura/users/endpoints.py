"""/api/v1/staff (the OWNER manages their team) and /api/v1/admin/users (superusers)."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Request
from sqlalchemy import select

from kura.audit.service import AuditAction, record
from kura.auth.dependencies import CurrentAuth, Owner, SuperAdmin
from kura.auth.sessions import utcnow
from kura.db.session import DbSession
from kura.errors import BadRequest, NotFound
from kura.pagination import Pagination, paginate
from kura.request_info import client_ip
from kura.users import service, team
from kura.users.models import User
from kura.users.schemas import StaffCreate, StaffUpdate, SuperuserUpdate, UserPage, UserRead

router = APIRouter()  # one tag per route: "staff" or "admin"


@router.get("/staff", response_model=UserPage, tags=["staff"])
async def list_staff(auth: CurrentAuth, session: DbSession, pages: Pagination) -> UserPage:
    """Everyone in your organization, by name."""
    rows, total = await paginate(session, service.staff_of(auth.user.organization_id), pages)
    return UserPage.of(rows, total, pages)


@router.post(
    "/staff",
    response_model=UserRead,
    status_code=201,
    tags=["staff"],
    responses={
        403: {"description": "Not the owner, or your own email is not confirmed yet"},
        409: {"description": "The email already has an account"},
        429: {"description": "Too many invitations today (20 per practice, 30 per IP)"},
    },
)
async def add_staff(body: StaffCreate, auth: Owner, request: Request, session: DbSession) -> User:
    """Add a team member; they receive an email naming you and your practice (link valid 72 h)."""
    settings = request.app.state.settings
    return await team.invite(session, settings, auth, body, ip=client_ip(request))


@router.patch(
    "/staff/{user_id}",
    response_model=UserRead,
    tags=["staff"],
    responses={400: {"description": "The practice would be left without an active owner"}},
)
async def update_staff(
    user_id: uuid.UUID, body: StaffUpdate, auth: Owner, request: Request, session: DbSession
) -> User:
    """Change a team member's role or (de)activate them; deactivation ends their sessions."""
    user = await service.get_staff(session, auth.user.organization_id, user_id)
    return await team.change(session, auth, user, body, ip=client_ip(request))


@router.patch(
    "/admin/users/{user_id}",
    response_model=UserRead,
    tags=["admin"],
    responses={400: {"description": "You cannot revoke your own superuser rights"}},
)
async def set_superuser(
    user_id: uuid.UUID,
    body: SuperuserUpdate,
    auth: SuperAdmin,
    request: Request,
    session: DbSession,
) -> User:
    """Grant or revoke platform-operator (superuser) rights. Superusers only."""
    user = await session.scalar(select(User).where(User.id == user_id))
    if user is None:
        raise NotFound("No such user.")
    if user.id == auth.user.id and not body.is_superuser:
        raise BadRequest("You cannot revoke your own superuser rights.")
    user.is_superuser = body.is_superuser
    await session.flush()
    await record(
        session,
        AuditAction.SUPERUSER_GRANTED if body.is_superuser else AuditAction.SUPERUSER_REVOKED,
        organization_id=user.organization_id,
        actor_id=auth.user.id,
        target_type="user",
        target_id=user.id,
        ip=client_ip(request),
    )
    return user


@router.post("/admin/users/{user_id}/verify-email", response_model=UserRead, tags=["admin"])
async def mark_email_verified(
    user_id: uuid.UUID, auth: SuperAdmin, request: Request, session: DbSession
) -> User:
    """Mark a user's email confirmed (support, after checking it by other means). Superusers."""
    user = await session.scalar(select(User).where(User.id == user_id))
    if user is None:
        raise NotFound("No such user.")
    if user.email_verified_at is None:
        user.email_verified_at = utcnow()
        await record(
            session,
            AuditAction.EMAIL_VERIFIED,
            organization_id=user.organization_id,
            actor_id=auth.user.id,
            target_type="user",
            target_id=user.id,
            ip=client_ip(request),
            details={"by": "operator"},
        )
        await session.flush()
    return user
