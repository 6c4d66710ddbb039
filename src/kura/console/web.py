"""Console plumbing: templates, operator sign-in check, CSRF, HTML errors, security headers."""

from __future__ import annotations

import functools
import hmac
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any
from urllib.parse import quote

from fastapi import Depends, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.routing import APIRoute
from starlette.datastructures import FormData

from kura import __version__
from kura.auth.dependencies import COOKIE_NAME
from kura.auth.sessions import Authenticated, authenticate
from kura.auth.tokens import InvalidToken
from kura.config import Settings
from kura.db.session import DbSession
from kura.errors import Forbidden, KuraError
from kura.request_info import client_ip
from kura.web_pages import CONTENT_SECURITY_POLICY as CONTENT_SECURITY_POLICY
from kura.web_pages import PageError, safe_path, session_csrf_token
from kura.web_pages import form_text as form_text
from kura.web_pages import same_origin as same_origin
from kura.web_pages import settings_of as settings_of

if TYPE_CHECKING:
    from fastapi.templating import Jinja2Templates

HERE = Path(__file__).parent
PREFIX = "/admin"


@functools.cache
def _templates() -> Jinja2Templates:
    """Loaded on the first page, not at import: the API's cold start does not pay for Jinja."""
    from fastapi.templating import Jinja2Templates

    loaded = Jinja2Templates(directory=HERE / "templates")
    loaded.env.globals["version"] = __version__
    return loaded


class LoginRequired(Exception):
    """No valid session: the operator is sent to the sign-in form."""


class CodeRequired(Exception):
    """Two-step code owed (pending sign-in, or a step-up): the operator is sent to the code form."""

    def __init__(self, next_path: str) -> None:
        self.next_path = next_path


class SetupRequired(Exception):
    """An operator without two-step verification yet: sent to set it up."""


def render(request: Request, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    # Signed-in pages carry the session's CSRF token for their forms (sign-out at least).
    context.setdefault("status_code", status_code)
    context.setdefault("csrf_token", getattr(request.state, "csrf_token", None))
    context.setdefault("signed_in_as", getattr(request.state, "signed_in_as", None))
    context.setdefault("is_operator", getattr(request.state, "is_operator", False))
    response = _templates().TemplateResponse(
        request, template, context, status_code=int(status_code)
    )
    response.headers["Cache-Control"] = "no-store"
    return response


def safe_next(target: str | None) -> str:
    """Only a path inside the console: never another host (open redirect)."""
    return safe_path(target, prefix=PREFIX)


def _login_redirect(request: Request) -> RedirectResponse:
    target = request.url.path if request.method == "GET" else PREFIX
    return RedirectResponse(f"{PREFIX}/login?next={quote(safe_next(target))}", status_code=303)


class ConsoleRoute(APIRoute):
    """Errors in the console are pages, not JSON; a missing session is the sign-in form."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def console_handler(request: Request) -> Response:
            # Each error leaves as a PageError past the request's dependencies: its
            # transaction rolls back before the page is sent (kura.web_pages).
            try:
                return await handler(request)
            except PageError:
                raise
            except LoginRequired:
                page: Response = _login_redirect(request)
            except CodeRequired as exc:
                target = quote(safe_next(exc.next_path))
                page = RedirectResponse(f"{PREFIX}/mfa?next={target}", status_code=303)
            except SetupRequired:
                page = RedirectResponse(f"{PREFIX}/mfa/setup", status_code=303)
            except KuraError as exc:
                page = render(request, "error.html", exc.status_code, message=exc.detail)
            except RequestValidationError:
                message = "That request was not valid. Go back and check the form."
                page = render(request, "error.html", 400, message=message)
            raise PageError(page)

        return console_handler


async def _any_session(request: Request, session: DbSession) -> Authenticated:
    """Anyone with a valid session cookie, pending a code or not (bearer tokens are not for
    pages): the code form and sign-out."""
    token = request.cookies.get(COOKIE_NAME)
    if not token:
        raise LoginRequired
    try:
        auth = await authenticate(session, settings_of(request), token)
    except InvalidToken:
        raise LoginRequired from None
    request.state.user_id = auth.user.id
    request.state.csrf_token = csrf_token(settings_of(request), auth)
    request.state.signed_in_as = auth.user.email
    request.state.is_operator = auth.user.is_superuser and auth.mfa_verified_at is not None
    return auth


AnySignedIn = Annotated[Authenticated, Depends(_any_session)]


def _here(request: Request) -> str:
    return request.url.path if request.method == "GET" else PREFIX


async def _signed_in(request: Request, auth: AnySignedIn) -> Authenticated:
    """Past the sign-in, code included."""
    if auth.mfa_pending:
        raise CodeRequired(_here(request))
    return auth


SignedIn = Annotated[Authenticated, Depends(_signed_in)]


async def _operator(request: Request, auth: SignedIn, session: DbSession) -> Authenticated:
    if not auth.user.is_superuser:
        raise Forbidden(
            "This console is for platform operators. Your account can use the KURA OS app, "
            "not this page."
        )
    if auth.mfa_verified_at is None:  # operators need two-step verification
        from kura.auth import mfa

        if await mfa.is_enabled(session, auth.user.id):
            raise CodeRequired(_here(request))
        raise SetupRequired
    return auth


Operator = Annotated[Authenticated, Depends(_operator)]


async def _fresh_operator(request: Request, auth: Operator, session: DbSession) -> Authenticated:
    """Step-up: a code within 10 minutes, or the code form and back to this path (for a
    restore, its GET is the confirmation page)."""
    from kura.auth.stepup import StepUpRequired, require_fresh_mfa

    try:
        await require_fresh_mfa(
            session, auth, ip=client_ip(request), action=f"console:{request.url.path}"
        )
    except StepUpRequired:
        raise CodeRequired(request.url.path) from None
    return auth


FreshOperator = Annotated[Authenticated, Depends(_fresh_operator)]


def csrf_token(settings: Settings, auth: Authenticated) -> str:
    """Bound to the session: a token from another session (or none) is refused."""
    return session_csrf_token(settings, auth, area="console")


async def _checked_form(request: Request, auth: AnySignedIn) -> FormData:
    form = await request.form()
    sent = form.get("csrf_token")
    expected = csrf_token(settings_of(request), auth)
    if (
        not same_origin(request)
        or not isinstance(sent, str)
        or not hmac.compare_digest(sent, expected)
    ):
        raise Forbidden("This form has expired or did not come from this console. Reload the page.")
    return form


CheckedForm = Annotated[FormData, Depends(_checked_form)]
