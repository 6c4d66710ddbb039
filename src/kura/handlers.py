"""One rendering for every error a client sees: {"error": code, "detail": message}."""

from __future__ import annotations

from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from kura.errors import KuraError

Responses = dict[int | str, dict[str, Any]]  # extra OpenAPI responses of a route


def _error(
    status: int, code: str, detail: str, *, headers: Mapping[str, str] | None = None, **extra: Any
) -> JSONResponse:
    return JSONResponse({"error": code, "detail": detail, **extra}, status, headers=headers)


async def _kura_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, KuraError)
    return _error(exc.status_code, exc.code, exc.detail, headers=exc.headers)


async def _http_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    status = HTTPStatus(exc.status_code)
    code = status.phrase.lower().replace(" ", "_").replace("-", "_")
    detail = exc.detail if isinstance(exc.detail, str) else status.description
    return _error(exc.status_code, code, detail, headers=exc.headers)


async def _validation_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    # Only where and what: the offending input is not echoed back (it may be a password).
    errors = [
        {"loc": [str(part) for part in err.get("loc", ())], "msg": str(err.get("msg", ""))}
        for err in exc.errors()
    ]
    summary = "; ".join(
        ".".join(str(part) for part in err.get("loc", ())) + f": {err.get('msg', '')}"
        for err in exc.errors()[:5]
    )
    return _error(422, "validation_error", summary or "Invalid request.", errors=errors)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(KuraError, _kura_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
