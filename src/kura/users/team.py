"""An owner's team changes, from the API and the workspace alike: inviting someone (throttled
before the outcome is known, emailed, audited) and changing a member's role or access."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from kura.audit.service import AuditAction, record
from kura.auth import throttle
from kura.auth.models import TokenPurpose
from kura.auth.service import require_verified_email, send_password_link_for
from kura.auth.sessions import Authenticated, revoke_all_sessions, utcnow
from kura.config import Settings
from kura.users import service
from kura.users.models import Role, User
from kura.users.schemas import StaffCreate, StaffUpdate


async def invite(
    session: AsyncSession,
    settings: Settings,
    auth: Authenticated,
    body: StaffCreate,
    *,
    ip: str | None,
) -> User:
    """Add a team member and email them a link naming the inviter and the practice."""
    require_verified_email(auth.user)
    now = utcnow()
    # Counted before the outcome is known: a refused email (409) costs an attempt too, so
    # inviting cannot be used to probe which addresses have accounts.
    await throttle.spend(session, throttle.INVITE_ORG, str(auth.organization.id), now=now)
    if ip:
        await throttle.spend(session, throttle.INVITE_IP, ip, now=now)
    await session.commit()
    user = await service.add_staff(
        session,
        organization=auth.organization,
        email=body.email,
        full_name=body.full_name,
        role=body.role,
    )
    await send_password_link_for(session, settings, user, TokenPurpose.INVITE, created_by=auth.user)
    await record(
        session,
        AuditAction.STAFF_ADDED,
        organization_id=auth.user.organization_id,
        actor_id=auth.user.id,
        target_type="user",
        target_id=user.id,
        ip=ip,
        details={"role": user.role.value},
    )
    return user


async def change(
    session: AsyncSession, auth: Authenticated, user: User, body: StaffUpdate, *, ip: str | None
) -> User:
    """A new role or (de)activation; deactivating ends their sessions; an owner remains."""
    changes = body.model_dump(exclude_unset=True, exclude_none=True)
    demoting = "role" in changes and changes["role"] != Role.OWNER
    deactivating = changes.get("is_active") is False
    if user.role == Role.OWNER and (demoting or deactivating):
        await service.ensure_an_owner_remains(session, user)
    if deactivating and user.is_active:
        await revoke_all_sessions(session, user)
    for field, value in changes.items():
        setattr(user, field, value)
    await session.flush()
    await record(
        session,
        AuditAction.STAFF_UPDATED,
        organization_id=auth.user.organization_id,
        actor_id=auth.user.id,
        target_type="user",
        target_id=user.id,
        ip=ip,
        details={key: str(value) for key, value in changes.items()},
    )
    return user
