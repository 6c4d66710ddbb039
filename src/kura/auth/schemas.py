"""Request and response bodies of /api/v1/auth."""

from __future__ import annotations

from datetime import datetime
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


class MfaPendingResponse(BaseModel):
    """Password accepted for an account with two-step verification: a code is still owed."""

    mfa_required: Literal[True] = True
    access_token: str  # a pending session: only POST /auth/mfa/verify and logout accept it
    token_type: Literal["bearer"] = "bearer"  # noqa: S105 - the OAuth token type, not a secret
    expires_at: datetime
    detail: str = "Send the code from your authenticator app to POST /api/v1/auth/mfa/verify."


class MfaCode(Input):
    code: str = Field(min_length=6, max_length=32)


class MfaSetupResponse(BaseModel):
    secret: str  # base32, for typing into an authenticator app
    otpauth_uri: str
    detail: str = "Add it to your authenticator app, then send a code to /auth/mfa/confirm."


class MfaEnabledResponse(BaseModel):
    recovery_codes: list[str]
    detail: str = "Two-step verification is on. Keep these codes safe: each works once."


class MfaVerifiedResponse(BaseModel):
    user: UserRead
    organization: OrganizationRead
    # A new token when this was a pending session; None when the current one was refreshed.
    access_token: str | None
    token_type: Literal["bearer"] = "bearer"  # noqa: S105 - the OAuth token type, not a secret
    mfa_verified_at: datetime
    method: Literal["totp", "recovery"]
    recovery_codes_left: int


class MfaDisableRequest(Input):
    password: str | None = Field(default=None, min_length=1, max_length=128)
    code: str = Field(min_length=6, max_length=32)


class MfaStatus(BaseModel):
    enabled: bool
    pending_setup: bool
    session_verified_at: datetime | None
    recovery_codes_left: int
