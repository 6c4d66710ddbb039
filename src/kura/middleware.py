"""Request context: a request id and trace on every log line, one access line per request.

Pure ASGI (no BaseHTTPMiddleware) so streaming responses and the hot path stay cheap. An
exception that escapes a route is logged here with its traceback and answered as a JSON 500;
the client never sees a stack trace.
"""

from __future__ import annotations

import re
import time
import uuid

import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kura.logging import get_logger

log = get_logger("kura.access")
_REQUEST_ID_RE = re.compile(r"^[A-Za-z0-9._-]{8,64}$")
_TRACE_RE = re.compile(r"^([0-9a-fA-F]{32})(?:/\d+)?(?:;o=\d)?$")
_500_BODY = b'{"error":"internal_error","detail":"Internal server error. It has been logged."}'


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return str(value.decode("latin-1"))
    return None


class RequestContextMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

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
                status = message["status"]
                response_started = True
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", request_id.encode()))
                message = {**message, "headers": headers}
            await send(message)

        with structlog.contextvars.bound_contextvars(**context):
            try:
                await self.app(scope, receive, send_with_id)
            except Exception:
                log.exception("request.unhandled_error", path=scope.get("path"))
                if not response_started:
                    await send_with_id(
                        {
                            "type": "http.response.start",
                            "status": 500,
                            "headers": [(b"content-type", b"application/json")],
                        }
                    )
                    await send({"type": "http.response.body", "body": _500_BODY})
                status = 500
            finally:
                log.info(
                    "request",
                    method=scope.get("method"),
                    path=scope.get("path"),
                    status=status,
                    duration_ms=round((time.perf_counter() - start) * 1000, 2),
                )
