"""The user table. `user` is reserved in PostgreSQL, hence `user_account`."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from kura.db.base import Base, Timestamps, UUIDPrimaryKey, str_enum
from kura.orgs.models import Organization


class Role(StrEnum):
    OWNER = "OWNER"
    THERAPIST = "THERAPIST"
    ASSISTANT = "ASSISTANT"


CLINICAL_ROLES = frozenset({Role.OWNER, Role.THERAPIST})


class User(UUIDPrimaryKey, Timestamps, Base):
    __tablename__ = "user_account"

    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organization.id", ondelete="CASCADE"), index=True
    )
    # Stored lower-cased (see users.service.normalize_email): unique case-insensitively.
    email: Mapped[str] = mapped_column(String(320), unique=True)
    full_name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str | None] = mapped_column(String(255))
    role: Mapped[Role] = mapped_column(str_enum(Role, "user_role"), default=Role.OWNER)
    is_active: Mapped[bool] = mapped_column(default=True)
    is_superuser: Mapped[bool] = mapped_column(default=False)
    google_sub: Mapped[str | None] = mapped_column(String(255), unique=True)
    # Set when the user proved the address (a link we emailed, or Google); see auth.service.
    email_verified_at: Mapped[datetime | None]
    locale: Mapped[str | None] = mapped_column(String(8))
    # E.164; where escalated CRITICAL alerts are sent by SMS (set by the user: PATCH /auth/me).
    phone: Mapped[str | None] = mapped_column(String(20))
    # Bumped on password change/reset and deactivation: every older token stops working.
    session_version: Mapped[int] = mapped_column(default=0)
    last_login_at: Mapped[datetime | None]

    organization: Mapped[Organization] = relationship(lazy="raise")

    @property
    def is_clinical(self) -> bool:
        return self.role in CLINICAL_ROLES
