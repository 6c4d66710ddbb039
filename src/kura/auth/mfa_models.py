"""Two-step verification (TOTP) enrolments and their one-time recovery codes."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, String, func
from sqlalchemy.orm import Mapped, mapped_column

from kura.db.base import Base, UUIDPrimaryKey


class UserMfa(Base):
    """One TOTP secret per user: pending until `enabled_at` (the first code confirmed it).

    The secret is stored sealed with a key derived from SECRET_KEY (kura.auth.mfa_crypto);
    `last_step` is the last accepted 30-second step, so a code is never accepted twice."""

    __tablename__ = "user_mfa"

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("user_account.id", ondelete="CASCADE"), primary_key=True
    )
    secret_sealed: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    enabled_at: Mapped[datetime | None]
    last_step: Mapped[int | None] = mapped_column(BigInteger)


class MfaRecoveryCode(UUIDPrimaryKey, Base):
    """A single-use recovery code; only its HMAC-SHA256 (keyed with SECRET_KEY) is stored."""

    __tablename__ = "mfa_recovery_code"

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("user_account.id", ondelete="CASCADE"), index=True
    )
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    used_at: Mapped[datetime | None]
