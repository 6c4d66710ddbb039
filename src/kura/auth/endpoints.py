"""/api/v1/auth: register, login (password or Google), logout, profile, password flows."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from kura.audit.service import AuditAction, record
from kura.auth import service
from kura.auth.dependencies import (
    AnySession,
    CurrentAuth,
    FullSession,
    clear_session_cookie,
    set_session_cookie,
)
from kura.auth.google import verify_google_id_token
from kura.auth.schemas import (
    AuthResponse,
    ChangePasswordRequest,
    DeleteAccountRequest,
    ForgotPasswordRequest,
    GoogleLoginRequest,
    LoginRequest,
    MeResponse,
    Message,
    MfaPendingResponse,
    RegisterRequest,
    ResetPasswordRequest,
    VerifyEmailRequest,
)
from kura.briefings.service import audio_of_users, remove_audio
from kura.config import Settings
from kura.db.session import DbSession
from kura.errors import KuraError
from kura.handlers import Responses
from kura.orgs.schemas import OrganizationRead
from kura.request_info import client_ip
from kura.users.schemas import ProfileUpdate, UserRead

router = APIRouter(prefix="/auth", tags=["auth"])
# 401 (signed in?) and the rest of what a route's structure implies are added in kura.openapi.
THROTTLED: Responses = {429: {"description": "Too many attempts from here: wait (Retry-After)"}}
REAUTH_ERRORS: Responses = {
    400: {"description": "Wrong password (counted; audited), or a refused new password"},
    429: {"description": "Too many wrong passwords: locked for 15 minutes (Retry-After)"},
}


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def _refused(error: KuraError) -> JSONResponse:
    """Returned, not raised: the failure counters and audit row must be committed."""
    return JSONResponse(
        {"error": error.code, "detail": error.detail},
        status_code=error.status_code,
        headers=error.headers,
    )


def _signed_in(request: Request, response: Response, signed: service.SignedIn) -> AuthResponse:
    set_session_cookie(response, signed.session, secure=_settings(request).is_production)
    return AuthResponse(
        user=UserRead.model_validate(signed.user),
        organization=OrganizationRead.model_validate(signed.organization),
        access_token=signed.session.access_token,
    )


def _login_answer(
    request: Request, response: Response, signed: service.SignedIn
) -> AuthResponse | MfaPendingResponse:
    """A full session, or a pending one (with its cookie) when a TOTP code is still owed."""
    if not signed.session.mfa_pending:
        return _signed_in(request, response, signed)
    set_session_cookie(response, signed.session, secure=_settings(request).is_production)
    return MfaPendingResponse(
        access_token=signed.session.access_token, expires_at=signed.session.expires_at
    )


@router.post(
    "/register",
    status_code=201,
    response_model=AuthResponse,
    responses={
        **THROTTLED,
        400: {"description": "The password is refused (too short, common, has the email)"},
        409: {"description": "The email already has an account"},
    },
)
async def register(
    body: RegisterRequest, request: Request, response: Response, session: DbSession
) -> AuthResponse:
    """Create a practice (organization) and its owner, and sign the owner in."""
    signed = await service.register(
        session,
        _settings(request),
        email=body.email,
        password=body.password,
        full_name=body.full_name,
        org_name=body.org_name,
        ip=client_ip(request),
    )
    return _signed_in(request, response, signed)


@router.post(
    "/login",
    response_model=AuthResponse | MfaPendingResponse,
    responses={
        401: {"description": "Email or password is incorrect (counted)"},
        429: {"description": "Too many wrong passwords: locked for 15 minutes (Retry-After)"},
    },
)
async def login(
    body: LoginRequest, request: Request, response: Response, session: DbSession
) -> AuthResponse | MfaPendingResponse | JSONResponse:
    """Sign in with email and password (then a TOTP code when MFA is on); sets the cookie."""
    outcome = await service.login(
        session, _settings(request), email=body.email, password=body.password, ip=client_ip(request)
    )
    if isinstance(outcome, service.LoginFailure):
        return _refused(outcome.error)
    return _login_answer(request, response, outcome)


@router.post(
    "/oauth/google",
    response_model=AuthResponse | MfaPendingResponse,
    responses={
        401: {"description": "The Google token is not valid, or its email is not verified"},
        403: {"description": "Linked to another Google account, or deactivated"},
        503: {"description": "Google sign-in is not configured or Google is unreachable"},
    },
)
async def login_with_google(
    body: GoogleLoginRequest, request: Request, response: Response, session: DbSession
) -> AuthResponse | MfaPendingResponse:
    """Sign in (or sign up) with a Google ID token whose email Google has verified."""
    identity = await verify_google_id_token(_settings(request), body.id_token)
    signed = await service.login_with_google(
        session, _settings(request), identity, ip=client_ip(request)
    )
    return _login_answer(request, response, signed)


@router.post("/logout", response_model=Message)
async def logout(
    auth: AnySession, request: Request, response: Response, session: DbSession
) -> Message:
    """End this session on the server; its token stops working."""
    await service.logout(session, auth, ip=client_ip(request))
    clear_session_cookie(response)
    return Message(message="Signed out.")


@router.get("/me", response_model=MeResponse)
async def me(auth: FullSession) -> MeResponse:
    """The signed-in user and their organization."""
    return MeResponse(
        user=UserRead.model_validate(auth.user),
        organization=OrganizationRead.model_validate(auth.organization),
    )


@router.patch("/me", response_model=MeResponse)
async def update_me(
    body: ProfileUpdate, auth: CurrentAuth, request: Request, session: DbSession
) -> MeResponse:
    """Change your own name or language (nothing else can be changed here)."""
    changes = body.model_dump(exclude_unset=True, exclude_none=True)
    for field, value in changes.items():
        setattr(auth.user, field, value)
    await record(
        session,
        AuditAction.PROFILE_UPDATED,
        organization_id=auth.user.organization_id,
        actor_id=auth.user.id,
        target_type="user",
        target_id=auth.user.id,
        ip=client_ip(request),
        details={"fields": sorted(changes)},
    )
    await session.flush()
    return MeResponse(
        user=UserRead.model_validate(auth.user),
        organization=OrganizationRead.model_validate(auth.organization),
    )


@router.post("/change-password", response_model=AuthResponse, responses=REAUTH_ERRORS)
async def change_password(
    body: ChangePasswordRequest,
    auth: CurrentAuth,
    request: Request,
    response: Response,
    session: DbSession,
) -> AuthResponse | JSONResponse:
    """Change your password; every other session ends and this one is renewed."""
    signed = await service.change_password(
        session,
        _settings(request),
        auth,
        current_password=body.current_password,
        new_password=body.new_password,
        ip=client_ip(request),
    )
    if isinstance(signed, service.ReauthFailure):
        return _refused(signed.error)
    return _signed_in(request, response, signed)


@router.post("/forgot-password", response_model=Message, responses=THROTTLED)
async def forgot_password(
    body: ForgotPasswordRequest, request: Request, session: DbSession
) -> Message:
    """Email a reset link if the account exists; the answer is the same either way."""
    await service.request_password_reset(
        session, _settings(request), email=body.email, ip=client_ip(request)
    )
    return Message(message="If an account exists for this email, a reset link is on its way.")


@router.post(
    "/reset-password",
    response_model=Message,
    responses={400: {"description": "The link is invalid or expired, or the password refused"}},
)
async def reset_password(
    body: ResetPasswordRequest, request: Request, session: DbSession
) -> Message:
    """Set a new password with a reset or invitation link; every session of the user ends."""
    await service.reset_password(
        session, token=body.token, new_password=body.new_password, ip=client_ip(request)
    )
    return Message(message="Password updated. Sign in with your new password.")


@router.post("/verify-email", response_model=Message, responses={400: {"description": "Bad link"}})
async def verify_email(body: VerifyEmailRequest, request: Request, session: DbSession) -> Message:
    """Confirm your email address with the link we sent (single use, 48 h)."""
    await service.verify_email(session, token=body.token, ip=client_ip(request))
    return Message(message="Email confirmed.")


@router.post(
    "/verify-email/resend",
    response_model=Message,
    responses={429: {"description": "Too many links asked for (5 per hour; Retry-After)"}},
)
async def resend_verification(auth: CurrentAuth, request: Request, session: DbSession) -> Message:
    """Send a new verification link to your address (5 per hour)."""
    sent = await service.resend_verification(session, _settings(request), auth)
    return Message(message="A new link is on its way." if sent else "Your email is confirmed.")


@router.delete(
    "/me",
    status_code=204,
    responses={
        **REAUTH_ERRORS,
        400: {"description": "Wrong password (counted; audited), or the last active owner"},
        403: {"description": "A platform operator's account cannot delete itself"},
        409: {"description": "The last member of a practice that holds patient records"},
    },
)
async def delete_me(
    body: DeleteAccountRequest, auth: CurrentAuth, request: Request, session: DbSession
) -> Response:
    """Delete your own account (password required); a practice left with no one goes too."""
    audio = await audio_of_users(session, [auth.user.id])
    failure = await service.delete_account(
        session, auth, password=body.password, ip=client_ip(request)
    )
    if failure is not None:
        return _refused(failure.error)
    await session.commit()  # the account is gone; then its briefing audio (it names patients)
    await remove_audio(_settings(request), audio)
    response = Response(status_code=204)
    clear_session_cookie(response)
    return response
