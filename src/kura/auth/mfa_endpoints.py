"""/api/v1/auth/mfa: two-step verification (TOTP) — set up, confirm, verify, disable."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from kura.auth import mfa, service
from kura.auth.dependencies import AnySession, FullSession, set_session_cookie
from kura.auth.schemas import (
    MfaCode,
    MfaDisableRequest,
    MfaEnabledResponse,
    MfaSetupResponse,
    MfaStatus,
    MfaVerifiedResponse,
)
from kura.auth.sessions import open_session, revoke_session, utcnow
from kura.config import Settings
from kura.db.session import DbSession
from kura.errors import KuraError
from kura.handlers import Responses
from kura.orgs.schemas import OrganizationRead
from kura.request_info import client_ip
from kura.users.schemas import UserRead

router = APIRouter(prefix="/auth/mfa", tags=["auth"])
CODE_ERRORS: Responses = {
    400: {"description": "The code is incorrect or was already used (counted; audited)"},
    409: {"description": "Two-step verification is not in the state this step needs"},
    429: {"description": "Too many wrong codes: locked for 15 minutes (Retry-After)"},
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


@router.get("", response_model=MfaStatus)
async def mfa_status(auth: FullSession, session: DbSession) -> MfaStatus:
    """Whether two-step verification is on, and when this session last passed a code."""
    row = await mfa.enrolment(session, auth.user.id)
    return MfaStatus(
        enabled=row is not None and row.enabled_at is not None,
        pending_setup=row is not None and row.enabled_at is None,
        session_verified_at=auth.mfa_verified_at,
        recovery_codes_left=await mfa.remaining_recovery_codes(session, auth.user.id),
    )


@router.post(
    "/setup",
    response_model=MfaSetupResponse,
    responses={409: {"description": "Already on: disable it first"}},
)
async def setup_mfa(auth: FullSession, request: Request, session: DbSession) -> MfaSetupResponse:
    """Start setup: a new TOTP secret and otpauth:// URI, pending until confirmed."""
    pending = await mfa.start_setup(session, _settings(request), auth.user)
    return MfaSetupResponse(secret=pending.secret, otpauth_uri=pending.otpauth_uri)


@router.post("/confirm", response_model=MfaEnabledResponse, responses=CODE_ERRORS)
async def confirm_mfa(
    body: MfaCode, auth: FullSession, request: Request, session: DbSession
) -> MfaEnabledResponse | JSONResponse:
    """Turn MFA on with a first code; returns 10 one-time recovery codes, shown only now."""
    codes = await mfa.confirm_setup(
        session, _settings(request), auth, body.code, ip=client_ip(request)
    )
    if isinstance(codes, mfa.MfaFailure):
        return _refused(codes.error)
    return MfaEnabledResponse(recovery_codes=codes)


@router.post("/verify", response_model=MfaVerifiedResponse, responses=CODE_ERRORS)
async def verify_mfa(
    body: MfaCode, auth: AnySession, request: Request, response: Response, session: DbSession
) -> MfaVerifiedResponse | JSONResponse:
    """Check a TOTP or recovery code: finishes a pending sign-in, or refreshes step-up."""
    settings, ip = _settings(request), client_ip(request)
    purpose = "sign-in" if auth.mfa_pending else "step-up"
    outcome = await mfa.check_code(session, settings, auth.user, body.code, ip=ip, purpose=purpose)
    if isinstance(outcome, mfa.MfaFailure):
        return _refused(outcome.error)
    now = utcnow()
    token: str | None = None
    if auth.mfa_pending:  # the pending token ends; the full session is a new one
        await revoke_session(session, auth.session_id)
        issued = await open_session(session, settings, auth.user, ip=ip, mfa_verified_at=now)
        set_session_cookie(response, issued, secure=settings.is_production)
        token = issued.access_token
    else:
        await mfa.mark_verified(session, auth.session_id)
    await mfa.audit_verified(
        session, auth.user, ip=ip, kind=outcome.kind, step_up=not auth.mfa_pending
    )
    return MfaVerifiedResponse(
        user=UserRead.model_validate(auth.user),
        organization=OrganizationRead.model_validate(auth.organization),
        access_token=token,
        mfa_verified_at=now,
        method=outcome.kind,
        recovery_codes_left=await mfa.remaining_recovery_codes(session, auth.user.id),
    )


@router.post(
    "/disable",
    status_code=204,
    responses={
        **CODE_ERRORS,
        400: {"description": "Wrong password or code (counted; audited)"},
    },
)
async def disable_mfa(
    body: MfaDisableRequest, auth: FullSession, request: Request, session: DbSession
) -> Response:
    """Turn MFA off (password and a current code); recovery codes are deleted."""
    refused = await service.turn_off_mfa(
        session,
        _settings(request),
        auth,
        password=body.password,
        code=body.code,
        ip=client_ip(request),
    )
    return _refused(refused) if refused is not None else Response(status_code=204)
