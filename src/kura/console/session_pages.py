"""Signing in and out of the operator console (the same session as the API's)."""

from __future__ import annotations

import hmac
import secrets
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from kura.auth import service
from kura.auth.dependencies import clear_session_cookie, set_session_cookie
from kura.console.web import (
    PREFIX,
    AnySignedIn,
    CheckedForm,
    ConsoleRoute,
    render,
    safe_next,
    same_origin,
    settings_of,
)
from kura.db.session import DbSession
from kura.request_info import client_ip

router = APIRouter(prefix=PREFIX, route_class=ConsoleRoute, include_in_schema=False)
LOGIN_CSRF_COOKIE = "kura_console_login"


def _login_form(
    request: Request, *, next_path: str, status_code: int = 200, error: str | None = None
) -> HTMLResponse:
    # Login CSRF: the form carries the same random value as a cookie only this site can set.
    token = secrets.token_urlsafe(32)
    response = render(
        request,
        "login.html",
        status_code,
        login_token=token,
        next_path=next_path,
        error=error,
        notice=request.query_params.get("notice"),
    )
    response.set_cookie(
        LOGIN_CSRF_COOKIE,
        token,
        max_age=3600,
        httponly=True,
        secure=settings_of(request).is_production,
        samesite="strict",
        path=PREFIX,
    )
    return response


@router.get("/login")
async def login_page(
    request: Request, next: Annotated[str | None, Query(max_length=300)] = None
) -> HTMLResponse:
    """The operator sign-in form."""
    return _login_form(request, next_path=safe_next(next))


@router.post("/login")
async def login(
    request: Request,
    session: DbSession,
    email: Annotated[str, Form(max_length=320)],
    password: Annotated[str, Form(max_length=1024)],
    login_token: Annotated[str, Form(max_length=100)],
    next: Annotated[str, Form(max_length=300)] = PREFIX,
) -> Response:
    """Check the password and start a session; back to the form with the reason otherwise."""
    target = safe_next(next)
    expected = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if not same_origin(request) or not expected or not hmac.compare_digest(login_token, expected):
        error = "The sign-in form expired. Please try again."
        return _login_form(request, next_path=target, status_code=400, error=error)
    outcome = await service.login(
        session, settings_of(request), email=email, password=password, ip=client_ip(request)
    )
    if isinstance(outcome, service.LoginFailure):
        # Returned, not raised: the failure counters and the audit row must be committed.
        failure = outcome.error
        return _login_form(
            request, next_path=target, status_code=failure.status_code, error=failure.detail
        )
    if outcome.session.mfa_pending:  # password accepted; the code is the next page
        target = f"{PREFIX}/mfa?next={quote(target)}"
    response = RedirectResponse(target, status_code=303)
    set_session_cookie(response, outcome.session, secure=settings_of(request).is_production)
    response.delete_cookie(LOGIN_CSRF_COOKIE, path=PREFIX)
    return response


@router.post("/logout")
async def logout(
    request: Request, auth: AnySignedIn, form: CheckedForm, session: DbSession
) -> RedirectResponse:
    """End this session and return to the sign-in form."""
    await service.logout(session, auth, ip=client_ip(request))
    response = RedirectResponse(f"{PREFIX}/login?notice=signed-out", status_code=303)
    clear_session_cookie(response)
    return response
