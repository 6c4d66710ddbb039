"""Typed errors: every failure a client can see has a status code and a stable code."""

from __future__ import annotations

from http import HTTPStatus


class KuraError(Exception):
    """Base of every error rendered to a client as {"error": code, "detail": message}."""

    status_code: int = HTTPStatus.INTERNAL_SERVER_ERROR
    code: str = "internal_error"

    def __init__(self, detail: str, *, headers: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.headers = headers


class BadRequest(KuraError):
    status_code = HTTPStatus.BAD_REQUEST
    code = "bad_request"


class NotAuthenticated(KuraError):
    status_code = HTTPStatus.UNAUTHORIZED
    code = "not_authenticated"


class Forbidden(KuraError):
    status_code = HTTPStatus.FORBIDDEN
    code = "forbidden"


class NotFound(KuraError):
    status_code = HTTPStatus.NOT_FOUND
    code = "not_found"


class Conflict(KuraError):
    status_code = HTTPStatus.CONFLICT
    code = "conflict"


class Gone(KuraError):
    status_code = HTTPStatus.GONE
    code = "gone"


class ServiceUnavailable(KuraError):
    status_code = HTTPStatus.SERVICE_UNAVAILABLE
    code = "service_unavailable"


class ConfigError(Exception):
    """The process cannot start as configured; the message says what to change."""


class StartupError(Exception):
    """A resource needed at start (database, port, data dir) is not usable; message says why."""
