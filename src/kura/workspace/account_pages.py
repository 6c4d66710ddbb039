"""Your account in the workspace: two-step verification set up (secret as text and otpauth
URI, a first code, recovery codes shown once) and turned off (password and a current code,
as the API). Reachable before the practice's two-step policy is met, so that it can be met."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from kura.auth import mfa
from kura.auth.passwords import MAX_PASSWORD_LENGTH
from kura.auth.service import turn_off_mfa
from kura.auth.sessions import Authenticated
from kura.db.session import DbSession
from kura.request_info import client_ip
from kura.web_pages import settings_of
from kura.workspace.web import (
    PREFIX,
    AnySignedIn,
    CheckedForm,
    CodeRequired,
    WorkspaceRoute,
    error_text,
    render,
)

router = APIRouter(prefix=PREFIX, route_class=WorkspaceRoute, include_in_schema=False)


async def _past_the_code(request: Request, auth: AnySignedIn) -> Authenticated:
    """Signed in and past the code step, whatever the practice's two-step policy."""
    if auth.mfa_pending:
        raise CodeRequired(request.url.path if request.method == "GET" else PREFIX)
    return auth


Me = Annotated[Authenticated, Depends(_past_the_code)]


@router.get("/account")
async def account_page(request: Request, auth: Me, session: DbSession) -> HTMLResponse:
    """Your name and email, and whether two-step verification is on."""
    return await _account(request, auth, session)


async def _account(
    request: Request,
    auth: Authenticated,
    session: DbSession,
    *,
    status_code: int = 200,
    refused: str | None = None,
    notice: str | None = None,
) -> HTMLResponse:
    enabled = await mfa.is_enabled(session, auth.user.id)
    return render(
        request,
        "account.html",
        status_code,
        page="account",
        mfa_on=enabled,
        codes_left=await mfa.remaining_recovery_codes(session, auth.user.id) if enabled else 0,
        required=request.query_params.get("mfa") == "required",
        has_password=auth.user.password_hash is not None,
        refused=refused,
        notice=notice,
    )


@router.post("/account/mfa/disable")
async def turn_off(
    request: Request, auth: Me, form: CheckedForm, session: DbSession
) -> HTMLResponse:
    """Turn two-step verification off with your password and a current code."""
    password = str(form.get("password", ""))[:MAX_PASSWORD_LENGTH] or None
    code = str(form.get("code", ""))[:32].strip()
    refused = await turn_off_mfa(
        session, settings_of(request), auth, password=password, code=code, ip=client_ip(request)
    )
    if refused is not None:  # rendered, not raised: the counters and audit row are kept
        return await _account(
            request,
            auth,
            session,
            status_code=refused.status_code,
            refused=error_text(request, refused),
        )
    return await _account(request, auth, session, notice="account_mfa_turned_off")


@router.post("/account/mfa/setup")
async def start_setup(
    request: Request, auth: Me, form: CheckedForm, session: DbSession
) -> HTMLResponse:
    """A new secret for your authenticator app, and the form for its first code."""
    pending = await mfa.start_setup(session, settings_of(request), auth.user)
    return render(
        request, "mfa_setup.html", page="account", secret=pending.secret, uri=pending.otpauth_uri
    )


@router.post("/account/mfa/confirm")
async def confirm_setup(
    request: Request, auth: Me, form: CheckedForm, session: DbSession
) -> HTMLResponse:
    """Turn two-step verification on with a first code; then the recovery codes, once."""
    settings = settings_of(request)
    code = str(form.get("code", ""))[:32].strip()
    codes = await mfa.confirm_setup(session, settings, auth, code, ip=client_ip(request))
    if isinstance(codes, mfa.MfaFailure):
        # Rendered, not raised: the failure counters and the audit row must be committed.
        pending = await mfa.pending_setup(session, settings, auth.user)
        return render(
            request,
            "mfa_setup.html",
            codes.error.status_code,
            page="account",
            secret=pending.secret if pending else None,
            uri=pending.otpauth_uri if pending else None,
            error_key="mfa_wrong",
        )
    return render(request, "mfa_codes.html", page="account", recovery_codes=codes)
