"""The app's contract: health, readiness, error shapes, request ids."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

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


def _operations(app: FastAPI) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method.upper(), path, operation)
        for path, item in app.openapi()["paths"].items()
        for method, operation in item.items()
    ]


def test_operation_ids_are_tag_and_function_in_kebab_case_and_unique(app: FastAPI) -> None:
    operations = _operations(app)
    ids = [operation["operationId"] for _, _, operation in operations]
    assert len(ids) == len(set(ids)) >= 60
    for _, _, operation in operations:
        (tag,) = operation["tags"]  # exactly one: the id and the client's module follow it
        assert re.fullmatch(rf"{tag}(-[a-z0-9]+)+", operation["operationId"]), operation
    by_route = {(method, path): op["operationId"] for method, path, op in operations}
    assert by_route["POST", "/api/v1/auth/login"] == "auth-login"
    assert (
        by_route["POST", "/api/v1/monitoring/risk-alerts/{alert_id}/acknowledge"]
        == "monitoring-acknowledge-risk-alert"
    )
    assert by_route["GET", "/health/ready"] == "health-ready"


def test_tags_have_one_style_and_a_description(app: FastAPI) -> None:
    document = app.openapi()
    declared = {tag["name"]: tag.get("description", "") for tag in document["tags"]}
    used = {tag for _, _, operation in _operations(app) for tag in operation["tags"]}
    assert used == set(declared)
    for name, description in declared.items():
        assert re.fullmatch(r"[a-z]+(-[a-z]+)*", name) and len(description) > 20, name


def test_servers_are_this_one_and_the_public_url(settings: Settings) -> None:
    assert create_app(settings).openapi()["servers"] == [{"url": "/", "description": "This server"}]
    public = settings.model_copy(update={"public_base_url": "https://api.kura.example"})
    servers = create_app(public).openapi()["servers"]
    assert [s["url"] for s in servers] == ["/", "https://api.kura.example"]


def test_every_operation_declares_the_errors_its_structure_implies(app: FastAPI) -> None:
    """401 where a session is read, 403 where a role is checked, 404 for an id in the path,
    408/413 for a body, 422 for input — each in the one error shape (the fuzz run checks that
    nothing else is answered)."""
    error = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorResponse"}}}
    role_checked = ("/api/v1/admin/", "/api/v1/notes/", "/api/v1/audit")
    secured = 0
    for method, path, operation in _operations(app):
        responses = operation["responses"]
        label = f"{method} {path}"
        if operation.get("security"):
            secured += 1
            assert "401" in responses, label
            assert "WWW-Authenticate" in responses["401"]["headers"], label
        if path.startswith(role_checked):
            assert "403" in responses, label
        if "{" in path:
            assert "404" in responses, label
        if "requestBody" in operation:
            assert {"408", "413", "422"} <= set(responses), label
        for status, response in responses.items():
            if status[0] in "45" and (method, path, status) != ("GET", "/health/ready", "503"):
                assert response["content"] == error, (label, status)
            if status == "429":
                assert "Retry-After" in response["headers"], label
    assert secured >= 50
    declared = {(method, path): set(op["responses"]) for method, path, op in _operations(app)}
    assert {"401", "429"} <= declared["POST", "/api/v1/auth/login"]
    assert {"409", "429"} <= declared["POST", "/api/v1/auth/register"]
    assert "429" in declared["POST", "/api/v1/auth/forgot-password"]
    assert {"400", "404", "409"} <= declared["POST", "/api/v1/admin/backups/restore"]
    schema = app.openapi()["components"]["schemas"]["ErrorResponse"]
    assert schema["required"] == ["error", "detail"]  # handlers.py's {"error", "detail"}


def test_binary_responses_are_typed(app: FastAPI) -> None:
    binary = {"type": "string", "format": "binary"}
    paths = app.openapi()["paths"]
    audio = paths["/api/v1/insights/daily-briefing/audio"]["get"]["responses"]["200"]
    assert audio["content"] == {"audio/mpeg": {"schema": binary}}
    backup = paths["/api/v1/admin/backups/{filename}/download"]["get"]["responses"]["200"]
    assert backup["content"] == {"application/gzip": {"schema": binary}}
    for method, path, operation in _operations(app):
        for status, response in operation["responses"].items():
            for media_type, media in response.get("content", {}).items():
                assert media.get("schema") is not None, (method, path, status, media_type)


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
