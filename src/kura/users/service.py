"""Creating and managing users and their organizations."""

from __future__ import annotations

import uuid

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from kura.errors import BadRequest, Conflict, NotFound
from kura.orgs.models import Organization, OrgType
from kura.users.models import Role, User


def normalize_email(email: str) -> str:
    return email.strip().lower()


async def get_by_email(session: AsyncSession, email: str) -> User | None:
    return await session.scalar(select(User).where(User.email == normalize_email(email)))


async def email_taken(session: AsyncSession, email: str) -> bool:
    return await get_by_email(session, email) is not None


async def create_organization_with_owner(
    session: AsyncSession,
    *,
    org_name: str,
    email: str,
    full_name: str,
    password_hash: str | None,
    google_sub: str | None = None,
    locale: str = "es",
) -> tuple[User, Organization]:
    if await email_taken(session, email):
        raise Conflict("An account with this email already exists.")
    organization = Organization(name=org_name, type=OrgType.SOLO, locale=locale)
    session.add(organization)
    await session.flush()
    user = User(
        organization_id=organization.id,
        email=normalize_email(email),
        full_name=full_name,
        password_hash=password_hash,
        role=Role.OWNER,
        google_sub=google_sub,
        session_version=0,
        is_active=True,
        is_superuser=False,
    )
    session.add(user)
    await session.flush()
    return user, organization


async def add_staff(
    session: AsyncSession, *, organization: Organization, email: str, full_name: str, role: Role
) -> User:
    if await email_taken(session, email):
        raise Conflict("An account with this email already exists.")
    user = User(
        organization_id=organization.id,
        email=normalize_email(email),
        full_name=full_name,
        password_hash=None,
        role=role,
        session_version=0,
        is_active=True,
        is_superuser=False,
    )
    session.add(user)
    if organization.type == OrgType.SOLO:
        organization.type = OrgType.TEAM
    await session.flush()
    return user


def staff_of(organization_id: uuid.UUID) -> Select[User]:
    """An organization's people, by name (then id: a stable order for pages)."""
    return (
        select(User)
        .where(User.organization_id == organization_id)
        .order_by(User.full_name, User.id)
    )


async def get_staff(session: AsyncSession, organization_id: uuid.UUID, user_id: uuid.UUID) -> User:
    user = await session.scalar(
        select(User).where(User.id == user_id, User.organization_id == organization_id)
    )
    if user is None:
        raise NotFound("No such staff member.")
    return user


async def ensure_an_owner_remains(session: AsyncSession, user: User) -> None:
    """Refuse a change that would leave the organization without an active OWNER."""
    owners = await session.scalar(
        select(func.count())
        .select_from(User)
        .where(
            User.organization_id == user.organization_id,
            User.role == Role.OWNER,
            User.is_active.is_(True),
            User.id != user.id,
        )
    )
    if not owners:
        raise BadRequest("The organization must keep at least one active owner.")
