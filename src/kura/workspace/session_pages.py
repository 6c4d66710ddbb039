"""Signing in and out of the workspace (the code step too), the language switch, and the
pages emailed links open: invitation, password reset (and the form that asks for one), email
verification. Each calls the auth services the API calls: same throttles, same audit."""

from __future__ import annotations

import hmac
import secrets
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from kura.auth import mfa, service
from kura.auth.dependencies import clear_session_cookie, set_session_cookie
from kura.auth.passwords import PasswordPolicyError
from kura.auth.sessions import open_session, revoke_session, utcnow
from kura.db.session import DbSession
from kura.errors import KuraError
from kura.i18n import LANGUAGES
from kura.request_info import client_ip
from kura.web_pages import PageError, same_origin, settings_of
from kura.workspace.web import (
    LANG_COOKIE,
    PREFIX,
    AnySignedIn,
    CheckedForm,
    WorkspaceRoute,
    error_text,
    page_language,
    redirect,
    render,
    safe_next,
)

router = APIRouter(prefix=PREFIX, route_class=WorkspaceRoute, include_in_schema=False)
FORM_COOKIE = "kura_app_form"
TOKEN_PAGES = {"accept-invite": "invite", "reset-password": "reset"}


def _anonymous_form(
    request: Request, template: str, status_code: int = 200, **context: object
) -> HTMLResponse:
    # Login CSRF: the form carries the same random value as a cookie only this site can set.
    token = secrets.token_urlsafe(32)
    response = render(request, template, status_code, form_token=token, **context)
    response.set_cookie(
        FORM_COOKIE,
        token,
        max_age=3600,
        httponly=True,
        secure=settings_of(request).is_production,
        samesite="strict",
        path=PREFIX,
    )
    return response


def _form_is_ours(request: Request, sent: str) -> bool:
    expected = request.cookies.get(FORM_COOKIE, "")
    return same_origin(request) and bool(expected) and hmac.compare_digest(sent, expected)


@router.get("/login")
async def login_page(
    request: Request, next: Annotated[str | None, Query(max_length=300)] = None
) -> HTMLResponse:
    """The sign-in form."""
    notice = request.query_params.get("notice")
    return _anonymous_form(request, "login.html", next_path=safe_next(next), notice=notice)


@router.post("/login")
async def login(
    request: Request,
    session: DbSession,
    email: Annotated[str, Form(max_length=320)],
    password: Annotated[str, Form(max_length=1024)],
    form_token: Annotated[str, Form(max_length=100)],
    next: Annotated[str, Form(max_length=300)] = PREFIX,
) -> Response:
    """Check the password and start a session (pending a code with MFA on)."""
    target = safe_next(next)
    if not _form_is_ours(request, form_token):
        return _anonymous_form(
            request, "login.html", 400, next_path=target, error_key="form_expired", email=email
        )
    outcome = await service.login(
        session, settings_of(request), email=email, password=password, ip=client_ip(request)
    )
    if isinstance(outcome, service.LoginFailure):
        # Returned, not raised: the failure counters and the audit row must be committed.
        status = outcome.error.status_code
        key = "login_throttled" if status == 429 else "login_failed"
        return _anonymous_form(
            request, "login.html", status, next_path=target, error_key=key, email=email
        )
    if outcome.session.mfa_pending:
        target = f"{PREFIX}/mfa?next={quote(target)}"
    response = redirect(target)
    set_session_cookie(response, outcome.session, secure=settings_of(request).is_production)
    response.delete_cookie(FORM_COOKIE, path=PREFIX)
    return response


@router.get("/mfa")
async def code_page(
    request: Request,
    auth: AnySignedIn,
    next: Annotated[str | None, Query(max_length=300)] = None,
) -> HTMLResponse:
    """The two-step code form, after the password."""
    return render(request, "mfa.html", next_path=safe_next(next))


@router.post("/mfa")
async def check_code(
    request: Request, auth: AnySignedIn, form: CheckedForm, session: DbSession
) -> Response:
    """Check the code; a pending sign-in becomes a full session, a full one is refreshed."""
    settings, ip = settings_of(request), client_ip(request)
    target = safe_next(str(form.get("next", PREFIX))[:300])
    code = str(form.get("code", ""))[:32].strip()
    purpose = "sign-in" if auth.mfa_pending else "step-up"
    outcome = await mfa.check_code(session, settings, auth.user, code, ip=ip, purpose=purpose)
    if isinstance(outcome, mfa.MfaFailure):
        # Rendered, not raised: the failure counters and the audit row must be committed.
        status = outcome.error.status_code
        key = "mfa_throttled" if status == 429 else "mfa_wrong"
        return render(request, "mfa.html", status, next_path=target, error_key=key)
    await mfa.audit_verified(
        session, auth.user, ip=ip, kind=outcome.kind, step_up=not auth.mfa_pending
    )
    response = redirect(target)
    if auth.mfa_pending:
        await revoke_session(session, auth.session_id)
        issued = await open_session(session, settings, auth.user, ip=ip, mfa_verified_at=utcnow())
        set_session_cookie(response, issued, secure=settings.is_production)
    else:
        await mfa.mark_verified(session, auth.session_id)
    return response


@router.post("/logout")
async def logout(
    request: Request, auth: AnySignedIn, form: CheckedForm, session: DbSession
) -> RedirectResponse:
    """End this session and return to the sign-in form."""
    await service.logout(session, auth, ip=client_ip(request))
    response = redirect(f"{PREFIX}/login?notice=signed-out")
    clear_session_cookie(response)
    return response


@router.get("/lang/{code}")
async def switch_language(
    code: str, next: Annotated[str | None, Query(max_length=300)] = None
) -> RedirectResponse:
    """Show the workspace in another language (remembered in a cookie)."""
    response = redirect(safe_next(next))
    if code in LANGUAGES:
        response.set_cookie(LANG_COOKIE, code, max_age=365 * 86400, samesite="lax", path=PREFIX)
    return response


@router.get("/forgot-password")
async def forgot_page(request: Request) -> HTMLResponse:
    """Ask for a password reset link."""
    return _anonymous_form(request, "forgot.html")


@router.post("/forgot-password")
async def forgot(
    request: Request,
    session: DbSession,
    email: Annotated[str, Form(max_length=320)],
    form_token: Annotated[str, Form(max_length=100)],
) -> Response:
    """Email a reset link if the account exists; the same answer either way."""
    if not _form_is_ours(request, form_token):
        return _anonymous_form(request, "forgot.html", 400, error_key="form_expired")
    try:
        await service.request_password_reset(
            session, settings_of(request), email=email, ip=client_ip(request)
        )
    except KuraError as exc:  # the per-IP throttle
        return _anonymous_form(request, "forgot.html", exc.status_code, error_key="throttled")
    return redirect(f"{PREFIX}/login?notice=reset-sent")


@router.get("/accept-invite")
@router.get("/reset-password")
async def password_page(
    request: Request, token: Annotated[str, Query(max_length=500)] = ""
) -> HTMLResponse:
    """Choose a password from an invitation or reset link (the link is spent on submit)."""
    kind = TOKEN_PAGES[request.url.path.removeprefix(PREFIX + "/")]
    return render(request, "set_password.html", kind=kind, token=token)


@router.post("/accept-invite")
@router.post("/reset-password")
async def set_password(
    request: Request,
    session: DbSession,
    token: Annotated[str, Form(max_length=500)],
    password: Annotated[str, Form(max_length=1024)],
    password_again: Annotated[str, Form(max_length=1024)],
) -> Response:
    """Set the password; every session of the user ends; then the sign-in form."""
    kind = TOKEN_PAGES[request.url.path.removeprefix(PREFIX + "/")]
    context: dict[str, object] = {"kind": kind, "token": token}
    if not same_origin(request):
        return render(request, "set_password.html", 403, error_key="form_expired", **context)
    if password != password_again:
        return render(
            request, "set_password.html", 422, field_error_key="password_mismatch", **context
        )
    try:
        await service.reset_password(
            session, token=token, new_password=password, ip=client_ip(request)
        )
    except PasswordPolicyError as exc:  # raised: the link must stay unspent
        page = render(
            request, "set_password.html", 422, field_error=error_text(request, exc), **context
        )
        raise PageError(page) from None
    except KuraError:
        page = render(request, "set_password.html", 400, error_key="link_invalid", **context)
        raise PageError(page) from None
    return redirect(f"{PREFIX}/login?notice=password-set")


@router.get("/verify-email")
async def verify_page(
    request: Request, token: Annotated[str, Query(max_length=500)] = ""
) -> HTMLResponse:
    """Confirm an email address: one button, so a link scanner's GET spends nothing."""
    return render(request, "verify_email.html", token=token)


@router.post("/verify-email")
async def verify(
    request: Request, session: DbSession, token: Annotated[str, Form(max_length=500)]
) -> Response:
    """Spend the verification link; the address is proved."""
    if not same_origin(request):
        return render(request, "verify_email.html", 403, token=token, error_key="form_expired")
    try:
        await service.verify_email(session, token=token, ip=client_ip(request))
    except KuraError:
        return render(request, "verify_email.html", 400, token=token, error_key="link_invalid")
    return redirect(f"{PREFIX}/login?notice=email-verified")


__all__ = ["page_language", "router"]
