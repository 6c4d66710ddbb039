"""What every server-rendered area (the console at /admin, the workspace at /app) shares:
the strict CSP and security headers, the same-origin check, session-bound CSRF tokens,
safe in-area redirects and form field reading."""

from __future__ import annotations

import hashlib
import hmac
from urllib.parse import urlsplit

from fastapi import Request, Response
from starlette.datastructures import FormData
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kura.auth.sessions import Authenticated
from kura.config import Settings
from kura.errors import BadRequest

# No inline script or style anywhere: everything a page runs comes from its static folder.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "media-src 'self'; connect-src 'self'; form-action 'self'; base-uri 'none'; "
    "frame-ancestors 'none'"
)
OTHER_SECURITY_HEADERS = [
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
    (b"cross-origin-opener-policy", b"same-origin"),
]


class PageError(Exception):
    """A page to answer with once the request's writes are undone: raised past the request's
    dependencies (its transaction rolls back), sent by `page_error_response`. A form refused
    with its errors beside the fields, or any error page of the console and the workspace."""

    def __init__(self, response: Response) -> None:
        self.response = response


async def page_error_response(request: Request, exc: Exception) -> Response:
    """The app's exception handler for PageError: its page, after the rollback."""
    assert isinstance(exc, PageError)
    return exc.response


def settings_of(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def session_csrf_token(settings: Settings, auth: Authenticated, *, area: str) -> str:
    """Bound to the session and the area: a token from another session (or none) is refused."""
    key = settings.signing_key.get_secret_value().encode()
    message = f"{area}-csrf:".encode() + auth.session_id.bytes
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def same_origin(request: Request) -> bool:
    """Browsers say where a request comes from; anything cross-site is refused outright."""
    if request.headers.get("sec-fetch-site", "same-origin") not in ("same-origin", "none"):
        return False
    origin = request.headers.get("origin")
    if origin is None:
        return True
    return urlsplit(origin).netloc == request.headers.get("host")


def safe_path(target: str | None, *, prefix: str) -> str:
    """Only a path inside `prefix`: never another host (open redirect)."""
    if (
        target
        and (target == prefix or target.startswith(prefix + "/") or target.startswith(prefix + "?"))
        and not target.startswith("//")
        and "\\" not in target
        and urlsplit(target).netloc == ""
    ):
        return target
    return prefix


def form_text(form: FormData, name: str, *, max_length: int = 200) -> str:
    value = form.get(name)
    if not isinstance(value, str) or len(value) > max_length:
        raise BadRequest(f"The form field `{name}` is missing or too long.")
    return value.strip()


class SecurityHeaders:
    """Security headers on every response under `prefix` (pages, redirects, static files)."""

    def __init__(self, app: ASGIApp, prefix: str, policy: str = CONTENT_SECURITY_POLICY) -> None:
        self.app = app
        self.prefix = prefix
        self.headers = [(b"content-security-policy", policy.encode()), *OTHER_SECURITY_HEADERS]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or not (
            path == self.prefix or path.startswith(self.prefix + "/")
        ):
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *self.headers]
            await send(message)

        await self.app(scope, receive, send_with_headers)
