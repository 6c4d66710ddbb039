"""Workspace plumbing: language, templates and `render`, the signed-in check, CSRF, HTML errors."""

from __future__ import annotations

import functools
import hmac
from collections.abc import Callable, Coroutine
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any
from urllib.parse import quote

from fastapi import Depends, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.routing import APIRoute
from pydantic import ValidationError
from pydantic_core import ErrorDetails
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import FormData

from kura import __version__
from kura.auth.dependencies import COOKIE_NAME
from kura.auth.sessions import Authenticated, authenticate
from kura.auth.tokens import InvalidToken
from kura.db.session import DbSession
from kura.errors import Forbidden, KuraError, NotFound
from kura.i18n import LANGUAGES, language, long_date, text
from kura.i18n.errors import localize_error
from kura.users.models import CLINICAL_ROLES, Role
from kura.web_pages import (
    CONTENT_SECURITY_POLICY,
    PageError,
    safe_path,
    same_origin,
    session_csrf_token,
    settings_of,
)

if TYPE_CHECKING:
    from fastapi.templating import Jinja2Templates

HERE = Path(__file__).parent
PREFIX = "/app"
LANG_COOKIE = "kura_lang"
# Billing forms answer with a redirect to Stripe's pages; browsers apply form-action to it.
WORKSPACE_POLICY = CONTENT_SECURITY_POLICY.replace(
    "form-action 'self'",
    "form-action 'self' https://checkout.stripe.com https://billing.stripe.com "
    "https://connect.stripe.com",
)


# The signed-in caller of this request, kept in the ASGI scope (request.state may be shared
# with the app's lifespan state).
_AUTH, _DB, _CSRF = "kura.workspace.auth", "kura.workspace.db", "kura.workspace.csrf"


def signed_in(request: Request) -> Authenticated | None:
    auth: Authenticated | None = request.scope.get(_AUTH)
    return auth


class LoginRequired(Exception):
    """No valid session: sent to the sign-in form."""


class CodeRequired(Exception):
    """A two-step code is owed: sent to the code form, then back to `next_path`."""

    def __init__(self, next_path: str) -> None:
        self.next_path = next_path


def page_language(request: Request) -> str:
    """The language switch (cookie) first, then the user's locale, the practice's, Spanish."""
    chosen = request.cookies.get(LANG_COOKIE)
    if chosen in LANGUAGES:
        return chosen
    auth = signed_in(request)
    if auth is not None:
        return language(auth.user.locale or auth.organization.locale)
    return language(None)


@functools.cache
def _templates() -> Jinja2Templates:
    """Loaded on the first page, not at import: the API's cold start does not pay for Jinja."""
    from fastapi.templating import Jinja2Templates
    from jinja2 import pass_context

    loaded = Jinja2Templates(directory=HERE / "templates")

    @pass_context
    def t(context: Any, key: str, /, **params: Any) -> str:
        return text(context["lang"], f"app.{key}", **params)

    @pass_context
    def when(context: Any, day: date, /) -> str:
        return long_date(context["lang"], day)

    loaded.env.globals.update(version=__version__, t=t, languages=LANGUAGES)
    loaded.env.filters["t"] = t
    loaded.env.filters["long_date"] = when
    return loaded


def render(request: Request, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    """A page of templates/: `lang`, `t`, `auth`, `csrf_token` and `page` are always there."""
    auth = signed_in(request)
    context.setdefault("status_code", status_code)
    context.setdefault("lang", page_language(request))
    context.setdefault("auth", auth)
    context.setdefault("csrf_token", request.scope.get(_CSRF))
    context.setdefault("clinical", auth is not None and auth.user.role in CLINICAL_ROLES)
    context.setdefault("here", request.url.path)
    response = _templates().TemplateResponse(
        request, template, context, status_code=int(status_code)
    )
    response.headers["Cache-Control"] = "no-store"
    return response


def error_page(request: Request, status_code: int, key: str, **params: Any) -> HTMLResponse:
    message = text(page_language(request), f"app.{key}", **params)
    return render(request, "error.html", status_code, message=message)


def safe_next(target: str | None) -> str:
    """Only a path inside the workspace: never another host (open redirect)."""
    return safe_path(target, prefix=PREFIX)


def redirect(path: str) -> RedirectResponse:
    """POST-redirect-GET: every successful form ends here."""
    return RedirectResponse(path, status_code=303)


class WorkspaceRoute(APIRoute):
    """Errors are pages in the reader's language; a missing session is the sign-in form.

    Every error leaves as a PageError raised past the request's dependencies, so the request's
    transaction rolls back; `page_error_response` (an app exception handler) sends its page."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def workspace_handler(request: Request) -> Response:
            try:
                return await handler(request)
            except PageError:
                raise
            except LoginRequired:
                here = request.url.path if request.method == "GET" else PREFIX
                page: Response = redirect(f"{PREFIX}/login?next={quote(safe_next(here))}")
            except CodeRequired as exc:
                page = redirect(f"{PREFIX}/mfa?next={quote(safe_next(exc.next_path))}")
            except NotFound:
                await recover(request)
                page = error_page(request, 404, "error_not_found")
            except KuraError as exc:
                await recover(request)
                page = render(
                    request, "error.html", exc.status_code, message=error_text(request, exc)
                )
            except RequestValidationError:
                page = error_page(request, 400, "error_bad_request")
            raise PageError(page)

        return workspace_handler


async def recover(request: Request) -> None:
    """After a refused write, undo it now so the error page can still read the signed-in
    user (a failed flush leaves the session unusable, its objects expired)."""
    session: AsyncSession | None = request.scope.get(_DB)
    auth = signed_in(request)
    if session is None or auth is None:
        return
    await session.rollback()
    await session.refresh(auth.user)
    await session.refresh(auth.organization)


def csrf_token(request: Request, auth: Authenticated) -> str:
    return session_csrf_token(settings_of(request), auth, area="workspace")


async def _any_session(request: Request, session: DbSession) -> Authenticated:
    """A valid session cookie, code pending or not: the code form and sign-out."""
    token = request.cookies.get(COOKIE_NAME)
    if not token:
        raise LoginRequired
    try:
        auth = await authenticate(session, settings_of(request), token)
    except InvalidToken:
        raise LoginRequired from None
    request.state.user_id = auth.user.id
    request.scope[_AUTH] = auth
    request.scope[_DB] = session
    request.scope[_CSRF] = csrf_token(request, auth)
    return auth


AnySignedIn = Annotated[Authenticated, Depends(_any_session)]


async def _staff(request: Request, auth: AnySignedIn) -> Authenticated:
    """Past password and code, and within the practice's two-step policy (as the API's)."""
    here = request.url.path if request.method == "GET" else PREFIX
    if auth.mfa_pending:
        raise CodeRequired(here)
    if auth.organization.mfa_required and auth.mfa_verified_at is None:
        raise PageError(redirect(f"{PREFIX}/account?mfa=required"))  # where it is set up
    return auth


Staff = Annotated[Authenticated, Depends(_staff)]


async def _clinician(request: Request, auth: Staff) -> Authenticated:
    """OWNER or THERAPIST: clinical content (notes, messages, analyses, alerts)."""
    if auth.user.role not in CLINICAL_ROLES:
        raise Forbidden(text(page_language(request), "app.error_clinical_only"))
    return auth


Clinician = Annotated[Authenticated, Depends(_clinician)]


async def _owner(request: Request, auth: Staff) -> Authenticated:
    if auth.user.role != Role.OWNER:
        raise Forbidden(text(page_language(request), "app.error_owner_only"))
    return auth


Owner = Annotated[Authenticated, Depends(_owner)]


async def _checked_form(request: Request, auth: AnySignedIn) -> FormData:
    form = await request.form()
    sent = form.get("csrf_token")
    if (
        not same_origin(request)
        or not isinstance(sent, str)
        or not hmac.compare_digest(sent, csrf_token(request, auth))
    ):
        raise Forbidden(text(page_language(request), "app.error_csrf"))
    return form


CheckedForm = Annotated[FormData, Depends(_checked_form)]


def form_fields(
    form: FormData, names: tuple[str, ...], checkboxes: tuple[str, ...] = ()
) -> dict[str, object]:
    """A form's text fields (blank ones left out, as unset) and checkboxes (present = on)."""
    values: dict[str, object] = {}
    for name in names:
        value = form.get(name)
        if isinstance(value, str) and value.strip():
            values[name] = value.strip()
    for name in checkboxes:
        values[name] = form.get(name) is not None
    return values


def error_text(request: Request, exc: KuraError) -> str:
    """A service's (English) error in the page's language."""
    return localize_error(exc.detail, page_language(request))


# Pydantic's own messages, by error type, as texts of the catalogue (the rest: our validators').
_FIELD_MESSAGES = {
    "missing": "error_required",
    "string_too_short": "error_required",
    "string_too_long": "error_too_long",
    "too_long": "error_too_long",
    "int_parsing": "error_number",
    "int_from_float": "error_number",
    "decimal_parsing": "error_number",
    "greater_than": "error_too_small",
    "greater_than_equal": "error_too_small",
    "less_than": "error_too_large",
    "less_than_equal": "error_too_large",
    "enum": "error_choice",
    "literal_error": "error_choice",
    "uuid_parsing": "error_choice",
    "date_from_datetime_parsing": "error_date",
    "date_parsing": "error_date",
    "time_parsing": "error_time",
}


def field_errors(exc: ValidationError, request: Request) -> dict[str, str]:
    """Each field's first validation message in the page's language, to show next to it."""
    lang = page_language(request)
    errors: dict[str, str] = {}
    for error in exc.errors():
        field = str(error["loc"][0]) if error["loc"] else "form"
        errors.setdefault(field, _field_message(error, lang))
    return errors


def _field_message(error: ErrorDetails, lang: str) -> str:
    message = str(error["msg"]).removeprefix("Value error, ")
    key = _FIELD_MESSAGES.get(error["type"])
    if key is None and message.startswith("value is not a valid email address"):
        key = "error_email"
    if key is None:
        return localize_error(message, lang)
    limits = error.get("ctx") or {}
    return text(
        lang,
        f"app.{key}",
        **{name: limits.get(name, "") for name in ("max_length", "gt", "ge", "lt", "le")},
    )
