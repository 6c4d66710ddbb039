"""Emailed links — password reset, invitation, email verification: single use, short-lived,
only a hash stored. Following any of them proves the address, so it marks the email verified."""

from __future__ import annotations

import hmac
import uuid
from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from kura.auth.models import PasswordToken, TokenPurpose
from kura.auth.sessions import utcnow
from kura.auth.tokens import (
    InvalidToken,
    parse_password_link_token,
    password_link_token,
    token_hash,
)
from kura.config import Settings
from kura.db.engine import Database
from kura.errors import BadRequest
from kura.logging import get_logger
from kura.notify.email import email_sender
from kura.notify.templates import display_text, password_link_email
from kura.orgs.models import Organization
from kura.users.models import User

LIFETIME = {
    TokenPurpose.RESET: timedelta(hours=1),
    TokenPurpose.INVITE: timedelta(hours=72),
    TokenPurpose.VERIFY: timedelta(hours=48),
}
SETS_PASSWORD = frozenset({TokenPurpose.RESET, TokenPurpose.INVITE})
_PAGE = {
    TokenPurpose.RESET: "reset-password",
    TokenPurpose.INVITE: "accept-invite",
    TokenPurpose.VERIFY: "verify-email",
}
log = get_logger(__name__)


async def create_password_link(
    session: AsyncSession,
    settings: Settings,
    user: User,
    purpose: TokenPurpose,
    *,
    created_by: User | None = None,
) -> PasswordToken:
    """A new link for `user`; earlier unused links of the same purpose stop working."""
    now = utcnow()
    await session.execute(
        update(PasswordToken)
        .where(
            PasswordToken.user_id == user.id,
            PasswordToken.purpose == purpose,
            PasswordToken.used_at.is_(None),
        )
        .values(used_at=now)
    )
    token_id = uuid.uuid4()
    secret = password_link_token(key=settings.signing_key.get_secret_value(), token_id=token_id)
    row = PasswordToken(
        id=token_id,
        user_id=user.id,
        purpose=purpose,
        token_hash=token_hash(secret),
        expires_at=now + LIFETIME[purpose],
        created_by_id=created_by.id if created_by else None,
    )
    session.add(row)
    await session.flush()
    return row


async def expire_password_links(
    session: AsyncSession, user: User, purposes: frozenset[TokenPurpose] = SETS_PASSWORD
) -> None:
    """Unused links stop working (after a password change: an older reset link must die)."""
    await session.execute(
        update(PasswordToken)
        .where(
            PasswordToken.user_id == user.id,
            PasswordToken.purpose.in_(purposes),
            PasswordToken.used_at.is_(None),
        )
        .values(used_at=utcnow())
    )


async def consume_password_link(
    session: AsyncSession, token: str, *, purposes: frozenset[TokenPurpose]
) -> User:
    """The user a valid link of one of `purposes` belongs to; the link is spent and the email
    counts as verified. BadRequest otherwise."""
    invalid = BadRequest("This link is invalid or has expired. Ask for a new one.")
    try:
        token_id = parse_password_link_token(token)
    except InvalidToken:
        raise invalid from None
    row = await session.get(PasswordToken, token_id, with_for_update=True)
    if (
        row is None
        or not hmac.compare_digest(row.token_hash, token_hash(token))
        or row.used_at is not None
        or row.expires_at <= utcnow()
        or row.purpose not in purposes
    ):
        raise invalid
    user = await session.get_one(User, row.user_id)
    if not user.is_active:
        raise invalid
    row.used_at = utcnow()
    if user.email_verified_at is None:
        user.email_verified_at = row.used_at
    await session.flush()
    return user


async def deliver_password_link(
    database: Database, settings: Settings, token_id: uuid.UUID
) -> bool:
    """Email the link (job body). False when the link is no longer usable (nothing sent)."""
    async with database.sessionmaker() as session:
        row = (
            await session.execute(
                select(PasswordToken, User, Organization)
                .join(User, User.id == PasswordToken.user_id)
                .join(Organization, Organization.id == User.organization_id)
                .where(PasswordToken.id == token_id)
            )
        ).one_or_none()
        if row is None:
            return False
        link_row, user, organization = row
        inviter = (
            await session.get(User, link_row.created_by_id) if link_row.created_by_id else None
        )
    if link_row.used_at is not None or link_row.expires_at <= utcnow():
        log.info("auth.password_link_skipped", token_id=str(token_id))
        return False
    secret = password_link_token(key=settings.signing_key.get_secret_value(), token_id=token_id)
    email = password_link_email(
        purpose=link_row.purpose.value,
        locale=user.locale or organization.locale,
        to=user.email,
        name=user.full_name,
        org=organization.name,
        inviter=f"{display_text(inviter.full_name)} ({inviter.email})" if inviter else "",
        link=f"{settings.frontend_url}/{_PAGE[link_row.purpose]}?token={secret}",
    )
    await email_sender(settings).send(email)
    return True
