"""Users as clients see them, and the fields a user may change about themself."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, EmailStr, Field, StringConstraints

from kura.inputs import Input, single_line
from kura.pagination import Page
from kura.phones import Phone
from kura.users.models import Role

FullName = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=200),
    AfterValidator(single_line),
]
Locale = Literal["es", "en"]


class UserRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    organization_id: uuid.UUID
    email: str
    full_name: str
    role: Role
    is_active: bool
    is_superuser: bool
    email_verified_at: datetime | None
    locale: str | None
    phone: str | None
    last_login_at: datetime | None
    created_at: datetime


class ProfileUpdate(Input):
    """PATCH /auth/me: only these fields; anything else is rejected."""

    full_name: FullName | None = None
    locale: Locale | None = None
    phone: Phone | None = Field(
        default=None, description="Where unread CRITICAL risk alerts reach you by SMS"
    )


class StaffCreate(Input):
    email: EmailStr = Field(max_length=320)
    full_name: FullName
    role: Role = Role.THERAPIST


class StaffUpdate(Input):
    role: Role | None = None
    is_active: bool | None = None


class SuperuserUpdate(Input):
    is_superuser: bool


class UserPage(Page[UserRead]):
    """People of a practice, a page at a time."""
