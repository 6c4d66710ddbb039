"""`kura createsuperuser`: make (or promote) a platform operator. Idempotent."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from kura.audit.service import AuditAction, record
from kura.auth.passwords import check_password_policy, hash_password_sync
from kura.auth.sessions import utcnow
from kura.errors import BadRequest
from kura.users import service
from kura.users.models import User


@dataclass(frozen=True)
class SuperuserResult:
    user: User
    created: bool
    promoted: bool


async def ensure_superuser(
    session: AsyncSession,
    *,
    email: str,
    full_name: str,
    password: str | None,
    org_name: str,
) -> SuperuserResult:
    """Create the user (with their own organization) or promote an existing one.

    An existing user's password is left alone: re-running never locks an operator out.
    """
    existing = await service.get_by_email(session, email)
    if existing is not None:
        promoted = not existing.is_superuser
        existing.is_superuser = True
        existing.is_active = True
        if promoted:
            await record(
                session,
                AuditAction.SUPERUSER_GRANTED,
                organization_id=existing.organization_id,
                actor_id=None,
                target_type="user",
                target_id=existing.id,
                details={"via": "cli"},
            )
        await session.flush()
        return SuperuserResult(existing, created=False, promoted=promoted)
    if not password:
        raise BadRequest("A password is needed to create a new superuser.")
    check_password_policy(password, email=email)
    user, _ = await service.create_organization_with_owner(
        session,
        org_name=org_name,
        email=email,
        full_name=full_name,
        password_hash=hash_password_sync(password),
    )
    user.is_superuser = True
    user.email_verified_at = utcnow()  # set up by whoever runs the server
    await record(
        session,
        AuditAction.SUPERUSER_GRANTED,
        organization_id=user.organization_id,
        actor_id=None,
        target_type="user",
        target_id=user.id,
        details={"via": "cli"},
    )
    await session.flush()
    return SuperuserResult(user, created=True, promoted=True)
