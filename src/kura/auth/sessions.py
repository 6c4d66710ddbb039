"""Signed-in sessions: issued as JWTs, checked against the database on every request."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from kura.auth.models import AuthSession, PlatformState
from kura.auth.tokens import InvalidToken, decode_access_token, issue_access_token
from kura.config import Settings
from kura.orgs.models import Organization
from kura.users.models import User


@dataclass(frozen=True)
class IssuedSession:
    session_id: uuid.UUID
    access_token: str
    expires_at: datetime
    mfa_pending: bool = False


def utcnow() -> datetime:
    return datetime.now(UTC)


# A password accepted for an MFA user buys this long to type the code.
PENDING_LIFETIME = timedelta(minutes=5)


async def open_session(
    session: AsyncSession,
    settings: Settings,
    user: User,
    *,
    ip: str | None,
    mfa_pending: bool = False,
    mfa_verified_at: datetime | None = None,
) -> IssuedSession:
    now = utcnow()
    lifetime = (
        PENDING_LIFETIME if mfa_pending else timedelta(minutes=settings.access_token_expire_minutes)
    )
    row = AuthSession(
        user_id=user.id,
        expires_at=now + lifetime,
        ip=ip,
        mfa_pending=mfa_pending,
        mfa_verified_at=mfa_verified_at,
    )
    session.add(row)
    await session.flush()
    token = issue_access_token(
        key=settings.signing_key.get_secret_value(),
        user_id=user.id,
        session_id=row.id,
        session_version=user.session_version,
        now=now,
        lifetime=lifetime,
    )
    return IssuedSession(row.id, token, row.expires_at, mfa_pending)


async def revoke_session(session: AsyncSession, session_id: uuid.UUID) -> None:
    await session.execute(
        update(AuthSession)
        .where(AuthSession.id == session_id, AuthSession.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )


async def revoke_all_sessions(session: AsyncSession, user: User) -> None:
    """Every token of this user stops working (password change/reset, deactivation)."""
    user.session_version += 1
    await session.execute(
        update(AuthSession)
        .where(AuthSession.user_id == user.id, AuthSession.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )
    await session.flush()


async def bump_auth_epoch(session: AsyncSession) -> datetime:
    """Invalidate every session on the platform (after a database restore)."""
    now = utcnow()
    await session.execute(update(PlatformState).where(PlatformState.id == 1).values(auth_epoch=now))
    return now


# Built once (it runs on every authenticated request): session, user, organization and the
# platform's auth epoch in one round trip.
_AUTHENTICATE = (
    select(
        User,
        Organization,
        AuthSession.revoked_at,
        AuthSession.expires_at,
        AuthSession.mfa_pending,
        AuthSession.mfa_verified_at,
        select(PlatformState.auth_epoch).where(PlatformState.id == 1).scalar_subquery(),
    )
    .join(AuthSession, AuthSession.user_id == User.id)
    .join(Organization, Organization.id == User.organization_id)
    .where(AuthSession.id == bindparam("session_id"), User.id == bindparam("user_id"))
)


@dataclass(frozen=True)
class Authenticated:
    user: User
    organization: Organization
    session_id: uuid.UUID
    mfa_pending: bool = False  # password only: nothing but mfa/verify and logout
    mfa_verified_at: datetime | None = None  # last TOTP/recovery code on this session


async def authenticate(session: AsyncSession, settings: Settings, token: str) -> Authenticated:
    """The user behind a token, or InvalidToken. One query checks session, user and epoch."""
    claims = decode_access_token(token, key=settings.signing_key.get_secret_value())
    row = (
        await session.execute(
            _AUTHENTICATE, {"session_id": claims.session_id, "user_id": claims.user_id}
        )
    ).one_or_none()
    if row is None:
        raise InvalidToken
    user, organization, revoked_at, expires_at, mfa_pending, mfa_verified_at, auth_epoch = row
    now = utcnow()
    if (
        revoked_at is not None
        or expires_at <= now
        or not user.is_active
        or user.session_version != claims.session_version
        or (auth_epoch is not None and claims.issued_at < auth_epoch)
    ):
        raise InvalidToken
    return Authenticated(user, organization, claims.session_id, mfa_pending, mfa_verified_at)
