"""Request context: a request id and trace on every log line, one access line per request.

Pure ASGI (no BaseHTTPMiddleware) so streaming responses and the hot path stay cheap. An
exception that escapes a route is logged here with its traceback and answered as a JSON 500 —
or 503 when the database is unreachable, logged once per outage; the client never sees a stack
trace.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
import uuid

import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kura.db.errors import is_database_outage
from kura.logging import get_logger

log = get_logger("kura.access")
OUTAGE_LOG_INTERVAL_SECONDS = 60.0
_503_BODY = (
    b'{"error":"database_unavailable","detail":"The database is unavailable. '
    b'Try again in a few seconds."}'
)
_REQUEST_ID_RE = re.compile(r"^[A-Za-z0-9._-]{8,64}$")
_TRACE_RE = re.compile(r"^([0-9a-fA-F]{32})(?:/\d+)?(?:;o=\d)?$")
_500_BODY = b'{"error":"internal_error","detail":"Internal server error. It has been logged."}'


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return str(value.decode("latin-1"))
    return None


class _OutageLog:
    """One log line (and so one Sentry event) per outage, with a count of what was hidden."""

    def __init__(self) -> None:
        self._last = -OUTAGE_LOG_INTERVAL_SECONDS
        self._suppressed = 0

    def report(self, path: object) -> None:
        now = time.monotonic()
        if now - self._last < OUTAGE_LOG_INTERVAL_SECONDS:
            self._suppressed += 1
            return
        log.exception("request.database_unavailable", path=path, since_last=self._suppressed)
        self._last, self._suppressed = now, 0


class RequestContextMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._outages = _OutageLog()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = _header(scope, b"x-request-id")
        request_id = incoming if incoming and _REQUEST_ID_RE.match(incoming) else uuid.uuid4().hex
        context: dict[str, str] = {"request_id": request_id}
        trace = _TRACE_RE.match(_header(scope, b"x-cloud-trace-context") or "")
        if trace:
            context["trace_id"] = trace.group(1).lower()
        status = 500
        response_started = False
        start = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                status = int(message["status"])
                response_started = True
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", request_id.encode()))
                message = {**message, "headers": headers}
            await send(message)

        with structlog.contextvars.bound_contextvars(**context):
            try:
                await self.app(scope, receive, send_with_id)
            except Exception as exc:
                outage = is_database_outage(exc)
                if outage:
                    self._outages.report(scope.get("path"))
                else:
                    log.exception("request.unhandled_error", path=scope.get("path"))
                if not response_started:
                    headers = [(b"content-type", b"application/json")]
                    if outage:
                        headers.append((b"retry-after", b"5"))
                    await send_with_id(
                        {
                            "type": "http.response.start",
                            "status": 503 if outage else 500,
                            "headers": headers,
                        }
                    )
                    body = _503_BODY if outage else _500_BODY
                    await send({"type": "http.response.body", "body": body})
                status = 503 if outage and not response_started else 500
            finally:
                log.info(
                    "request",
                    method=scope.get("method"),
                    path=scope.get("path"),
                    status=status,
                    duration_ms=round((time.perf_counter() - start) * 1000, 2),
                )


class _Refused(Exception):
    """The request was answered by RequestLimitsMiddleware while the app was reading it."""


# A percent-encoded C0 control or DEL in the path or query (e.g. %00): no valid use here.
_ENCODED_CONTROL = re.compile(rb"%(?:[01][0-9a-fA-F]|7[fF])")


def _json_reply(status: int, code: str, detail: str) -> tuple[Message, Message]:
    body = json.dumps({"error": code, "detail": detail}).encode()
    start: Message = {
        "type": "http.response.start",
        "status": status,
        "headers": [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (b"connection", b"close"),
        ],
    }
    return start, {"type": "http.response.body", "body": body}


class RequestLimitsMiddleware:
    """Bounded requests: 413 over the body limit before it is read, 408 for a stalled body,
    400 for control characters in the URL. The app never holds more than `max_body` bytes."""

    def __init__(self, app: ASGIApp, *, max_body: int, body_timeout: float) -> None:
        self.app = app
        self.max_body = max_body
        self.body_timeout = body_timeout

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        target = scope.get("raw_path", b"") + b"?" + scope.get("query_string", b"")
        if _ENCODED_CONTROL.search(target) or "\x00" in scope.get("path", ""):
            await self._answer(send, 400, "bad_request", "The URL contains control characters.")
            return
        declared = _header(scope, b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_body):
            await self._answer(send, 413, "payload_too_large", self._too_large())
            return
        answered = False
        received = 0

        async def bounded_receive() -> Message:
            nonlocal answered, received
            try:
                async with asyncio.timeout(self.body_timeout):
                    message = await receive()
            except TimeoutError:
                answered = True
                await self._answer(send, 408, "request_timeout", "The request body stalled.")
                raise _Refused from None
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body:
                    answered = True
                    await self._answer(send, 413, "payload_too_large", self._too_large())
                    raise _Refused
            return message

        async def guarded_send(message: Message) -> None:
            if not answered:  # the app's own answer to the refused read is dropped
                await send(message)

        try:
            await self.app(scope, bounded_receive, guarded_send)
        except _Refused:
            return
        except Exception:
            if answered:  # the app turned our refusal into its own error: already answered
                return
            raise

    def _too_large(self) -> str:
        return f"The request body is larger than {self.max_body // 1024} KiB."

    @staticmethod
    async def _answer(send: Send, status: int, code: str, detail: str) -> None:
        start, body = _json_reply(status, code, detail)
        await send(start)
        await send(body)


class SecurityHeadersMiddleware:
    """nosniff everywhere, no caching of API answers (they hold personal data), HSTS in
    production (Cloud Run serves HTTPS only)."""

    def __init__(self, app: ASGIApp, *, hsts: bool) -> None:
        self.app = app
        self.hsts = hsts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        api = scope.get("path", "").startswith("/api/")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                names = {name.lower() for name, _ in headers}
                if b"x-content-type-options" not in names:
                    headers.append((b"x-content-type-options", b"nosniff"))
                if api and b"cache-control" not in names:
                    headers.append((b"cache-control", b"no-store"))
                if self.hsts:
                    headers.append((b"strict-transport-security", b"max-age=31536000"))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)
