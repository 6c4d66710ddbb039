"""Your account in the workspace: two-step verification set up (secret as text and otpauth
URI, a first code, recovery codes shown once). Reachable before the practice's two-step
policy is met, so that it can be met."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from kura.auth import mfa
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
    enabled = await mfa.is_enabled(session, auth.user.id)
    return render(
        request,
        "account.html",
        page="account",
        mfa_on=enabled,
        codes_left=await mfa.remaining_recovery_codes(session, auth.user.id) if enabled else 0,
        required=request.query_params.get("mfa") == "required",
    )


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
