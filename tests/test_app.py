"""The app's contract: health, readiness, error shapes, request ids."""

from __future__ import annotations

from pathlib import Path

from asgi_lifespan import LifespanManager
from fastapi import APIRouter, FastAPI
from httpx import ASGITransport, AsyncClient
from pydantic import BaseModel, Field
from sqlalchemy.engine import URL

from kura import __version__
from kura.app import create_app
from kura.config import Settings
from kura.db.engine import Database
from kura.errors import Conflict


class Payload(BaseModel):
    email: str = Field(max_length=20)
    password: str


probe = APIRouter(prefix="/probe")


@probe.post("/validate")
async def validate(payload: Payload) -> dict[str, str]:
    return {"email": payload.email}


@probe.get("/conflict")
async def conflict() -> None:
    raise Conflict("That already exists.")


@probe.get("/crash")
async def crash() -> None:
    raise RuntimeError("boom at /srv/kura/secret_module.py")


async def test_health_reports_the_package_version(client: AsyncClient) -> None:
    response = await client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "healthy", "version": __version__}
    assert response.headers["content-type"] == "application/json"
    assert __version__ != "0.0.0+unknown"
    head = await client.head("/health")
    assert head.status_code == 200 and head.content == b""


async def test_ready_checks_the_database(client: AsyncClient) -> None:
    response = await client.get("/health/ready")
    assert response.status_code == 200
    assert response.json() == {"status": "ready", "checks": {"database": "ok"}}


async def test_ready_answers_503_with_a_reason_when_the_database_is_unreachable(
    settings: Settings, tmp_path: Path
) -> None:
    unreachable = URL.create(
        "postgresql+psycopg", username="nobody", database="nothing", query={"host": str(tmp_path)}
    )
    database = Database.connect(unreachable)
    app = create_app(settings, database=database)
    async with (
        LifespanManager(app),
        AsyncClient(transport=ASGITransport(app), base_url="http://test") as client,
    ):
        response = await client.get("/health/ready")
    await database.dispose()
    assert response.status_code == 503
    assert response.json() == {"status": "unavailable", "checks": {"database": "unreachable"}}


async def test_openapi_and_docs_are_served(client: AsyncClient) -> None:
    schema = (await client.get("/api/v1/openapi.json")).json()
    assert schema["info"]["version"] == __version__
    assert "/health" in schema["paths"]
    assert (await client.get("/docs")).status_code == 200


async def test_unknown_route_is_json_404(client: AsyncClient) -> None:
    response = await client.get("/api/v1/no-such-thing")
    assert response.status_code == 404
    assert response.json() == {"error": "not_found", "detail": "Not Found"}


async def test_wrong_method_is_json_405(client: AsyncClient) -> None:
    response = await client.delete("/health")
    assert response.status_code == 405
    assert response.json()["error"] == "method_not_allowed"


async def test_validation_errors_are_422_without_echoing_input(
    app: FastAPI, client: AsyncClient
) -> None:
    app.include_router(probe)
    response = await client.post(
        "/probe/validate", json={"email": "x" * 30, "password": "hunter2-very-secret"}
    )
    assert response.status_code == 422
    body = response.json()
    assert body["error"] == "validation_error"
    assert "body.email" in body["detail"]
    assert "hunter2" not in response.text and "x" * 30 not in response.text

    malformed = await client.post(
        "/probe/validate", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert malformed.status_code == 422


async def test_kura_errors_render_code_and_detail(app: FastAPI, client: AsyncClient) -> None:
    app.include_router(probe)
    response = await client.get("/probe/conflict")
    assert response.status_code == 409
    assert response.json() == {"error": "conflict", "detail": "That already exists."}


async def test_unhandled_errors_are_json_500_without_a_stack_trace(
    app: FastAPI, client: AsyncClient
) -> None:
    app.include_router(probe)
    response = await client.get("/probe/crash")
    assert response.status_code == 500
    assert response.json()["error"] == "internal_error"
    assert "boom" not in response.text and "Traceback" not in response.text
    assert response.headers["x-request-id"]


async def test_request_id_is_generated_or_propagated(client: AsyncClient) -> None:
    generated = await client.get("/health/ready")
    assert len(generated.headers["x-request-id"]) == 32
    propagated = await client.get("/health/ready", headers={"X-Request-ID": "abc-123-def-456"})
    assert propagated.headers["x-request-id"] == "abc-123-def-456"
    # A hostile id (log injection) is replaced, not echoed.
    forged = 'x" forged="1'
    hostile = await client.get("/health/ready", headers={"X-Request-ID": forged})
    assert hostile.headers["x-request-id"] != forged
