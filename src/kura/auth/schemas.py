"""Request and response bodies of /api/v1/auth."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, EmailStr, Field

from kura.inputs import Input
from kura.orgs.schemas import OrganizationRead
from kura.users.schemas import FullName, UserRead

Password = Field(min_length=1, max_length=128)


class RegisterRequest(Input):
    email: EmailStr = Field(max_length=320)
    password: str = Field(max_length=128)
    full_name: FullName
    org_name: FullName


class LoginRequest(Input):
    email: EmailStr = Field(max_length=320)
    password: str = Password


class GoogleLoginRequest(Input):
    id_token: str = Field(min_length=10, max_length=4096)


class ForgotPasswordRequest(Input):
    email: EmailStr = Field(max_length=320)


class ResetPasswordRequest(Input):
    token: str = Field(min_length=10, max_length=200)
    new_password: str = Field(max_length=128)


class VerifyEmailRequest(Input):
    token: str = Field(min_length=10, max_length=200)


class ChangePasswordRequest(Input):
    current_password: str = Password
    new_password: str = Field(max_length=128)


class DeleteAccountRequest(Input):
    password: str = Password


class AuthResponse(BaseModel):
    user: UserRead
    organization: OrganizationRead
    access_token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105 - the OAuth token type, not a secret


class MeResponse(BaseModel):
    user: UserRead
    organization: OrganizationRead


class Message(BaseModel):
    message: str
