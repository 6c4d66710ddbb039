"""Sessions, password tokens, throttles and the platform-wide auth epoch."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, ForeignKey, String, func
from sqlalchemy.orm import Mapped, mapped_column

from kura.db.base import Base, UUIDPrimaryKey, str_enum


class AuthSession(UUIDPrimaryKey, Base):
    """One signed-in device; the token's `sid`. Logout sets revoked_at."""

    __tablename__ = "auth_session"

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("user_account.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
    ip: Mapped[str | None] = mapped_column(String(64))
    # Password accepted, TOTP code still owed: only mfa/verify and logout accept it (5 min).
    mfa_pending: Mapped[bool] = mapped_column(default=False, server_default="false")
    # When this session last passed a TOTP/recovery code (superusers, step-up).
    mfa_verified_at: Mapped[datetime | None]


class TokenPurpose(StrEnum):
    RESET = "RESET"
    INVITE = "INVITE"
    VERIFY = "VERIFY"  # confirms the email address; cannot set a password


class PasswordToken(UUIDPrimaryKey, Base):
    """A single-use link to set a password. Only a hash of the token is stored."""

    __tablename__ = "password_token"

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("user_account.id", ondelete="CASCADE"), index=True
    )
    purpose: Mapped[TokenPurpose] = mapped_column(str_enum(TokenPurpose, "token_purpose"))
    token_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
    # Who sent an invitation (named in its email); None for links users ask for themselves.
    created_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL")
    )


class AuthThrottle(Base):
    """Failure counters shared by every instance: per email (lockout) and per IP (429)."""

    __tablename__ = "auth_throttle"

    key: Mapped[str] = mapped_column(String(128), primary_key=True)
    failures: Mapped[int] = mapped_column(default=0)
    window_started_at: Mapped[datetime] = mapped_column(server_default=func.now())
    locked_until: Mapped[datetime | None]


class PlatformState(Base):
    """A single row. Tokens issued before `auth_epoch` are rejected (set after a restore)."""

    __tablename__ = "platform_state"
    __table_args__ = (CheckConstraint("id = 1", name="single_row"),)

    id: Mapped[int] = mapped_column(primary_key=True, default=1, autoincrement=False)
    auth_epoch: Mapped[datetime] = mapped_column(server_default=func.now())
