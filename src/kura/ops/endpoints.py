"""Liveness and readiness probes."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from kura import __version__
from kura.db.session import get_database
from kura.logging import get_logger
from kura.ops.schemas import Health, Readiness

router = APIRouter(tags=["health"])
log = get_logger(__name__)
_HEALTH = Health(status="healthy", version=__version__).model_dump()
# Served by kura.app.KuraAPI's fast path; the route below documents it (and answers if
# the fast path is ever removed).
HEALTH_BODY = Health(status="healthy", version=__version__).model_dump_json().encode()


@router.get("/health", response_model=Health)
async def health() -> dict[str, str]:
    """Liveness: the process answers (no dependency is checked)."""
    return _HEALTH


@router.get(
    "/health/ready",
    response_model=Readiness,
    responses={503: {"model": Readiness, "description": "A dependency is unavailable"}},
)
async def ready(request: Request) -> JSONResponse:
    """Readiness: the database answers within 3 seconds."""
    try:
        await get_database(request).ping(within_seconds=3.0)
    except Exception as exc:
        log.warning("health.database_unreachable", error=type(exc).__name__)
        body = Readiness(status="unavailable", checks={"database": "unreachable"})
        return JSONResponse(body.model_dump(), status_code=503)
    return JSONResponse(Readiness(status="ready", checks={"database": "ok"}).model_dump())
