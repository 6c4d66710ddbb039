"""Two-step verification in the console: the code after the password (and for step-up), and
an operator's first setup (secret and otpauth URI as text, confirm, recovery codes once)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from kura.auth import mfa
from kura.auth.dependencies import set_session_cookie
from kura.auth.sessions import open_session, revoke_session, utcnow
from kura.console.web import (
    PREFIX,
    AnySignedIn,
    CheckedForm,
    ConsoleRoute,
    SignedIn,
    csrf_token,
    form_text,
    render,
    safe_next,
    settings_of,
)
from kura.db.session import DbSession
from kura.errors import Forbidden
from kura.request_info import client_ip

router = APIRouter(prefix=f"{PREFIX}/mfa", route_class=ConsoleRoute, include_in_schema=False)


@router.get("", response_class=HTMLResponse)
async def code_page(
    request: Request,
    auth: AnySignedIn,
    session: DbSession,
    next: Annotated[str | None, Query(max_length=300)] = None,
) -> Response:
    """The code form: after the password, or again before a step-up action."""
    if not await mfa.is_enabled(session, auth.user.id):
        return RedirectResponse(f"{PREFIX}/mfa/setup", status_code=303)
    return render(request, "mfa_verify.html", next_path=safe_next(next), pending=auth.mfa_pending)


@router.post("")
async def check_code(
    request: Request, auth: AnySignedIn, form: CheckedForm, session: DbSession
) -> Response:
    """Check the code; a pending sign-in becomes a full session, a full one is refreshed."""
    settings, ip = settings_of(request), client_ip(request)
    target = safe_next(form_text(form, "next", max_length=300))
    code = form_text(form, "code", max_length=32)
    purpose = "sign-in" if auth.mfa_pending else "step-up"
    outcome = await mfa.check_code(session, settings, auth.user, code, ip=ip, purpose=purpose)
    if isinstance(outcome, mfa.MfaFailure):
        # Rendered, not raised: the failure counters and the audit row must be committed.
        error = outcome.error
        return render(
            request,
            "mfa_verify.html",
            error.status_code,
            next_path=target,
            pending=auth.mfa_pending,
            error=error.detail,
        )
    await mfa.audit_verified(
        session, auth.user, ip=ip, kind=outcome.kind, step_up=not auth.mfa_pending
    )
    response = RedirectResponse(target, status_code=303)
    if auth.mfa_pending:
        await revoke_session(session, auth.session_id)
        issued = await open_session(session, settings, auth.user, ip=ip, mfa_verified_at=utcnow())
        set_session_cookie(response, issued, secure=settings.is_production)
    else:
        await mfa.mark_verified(session, auth.session_id)
    return response


def _operator_only(auth: SignedIn) -> None:
    if not auth.user.is_superuser:
        raise Forbidden("This console is for platform operators.")


@router.get("/setup", response_class=HTMLResponse)
async def setup_page(request: Request, auth: SignedIn, session: DbSession) -> Response:
    """Why two-step verification is needed, and the button that starts its setup."""
    _operator_only(auth)
    if await mfa.is_enabled(session, auth.user.id):
        return RedirectResponse(PREFIX, status_code=303)
    return render(request, "mfa_setup.html", secret=None)


@router.post("/setup", response_class=HTMLResponse)
async def start_setup(
    request: Request, auth: SignedIn, form: CheckedForm, session: DbSession
) -> HTMLResponse:
    """A new secret, shown as text with its otpauth:// URI, and the form to confirm a code."""
    _operator_only(auth)
    pending = await mfa.start_setup(session, settings_of(request), auth.user)
    return render(request, "mfa_setup.html", secret=pending.secret, otpauth_uri=pending.otpauth_uri)


@router.post("/confirm", response_class=HTMLResponse)
async def confirm(
    request: Request, auth: SignedIn, form: CheckedForm, session: DbSession
) -> HTMLResponse:
    """Turn two-step verification on with a first code; the recovery codes, shown only now."""
    _operator_only(auth)
    code = form_text(form, "code", max_length=32)
    codes = await mfa.confirm_setup(
        session, settings_of(request), auth, code, ip=client_ip(request)
    )
    if isinstance(codes, mfa.MfaFailure):
        # Rendered, not raised: the failure counters and the audit row must be committed.
        error, pending = (
            codes.error,
            await mfa.pending_setup(session, settings_of(request), auth.user),
        )
        return render(
            request,
            "mfa_setup.html",
            error.status_code,
            secret=pending.secret if pending else None,
            otpauth_uri=pending.otpauth_uri if pending else None,
            error=error.detail,
        )
    request.state.is_operator = True
    request.state.csrf_token = csrf_token(settings_of(request), auth)
    return render(request, "mfa_codes.html", recovery_codes=codes)
