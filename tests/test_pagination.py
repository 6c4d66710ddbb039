"""One list shape for every collection (#18): `{items, total, page, page_size}`, paged with
`page` (1-based) and `page_size` (1 to 200, default 50)."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from httpx import AsyncClient
from sqlalchemy.ext.asyncio import AsyncSession

from kura.config import Settings
from kura.pagination import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE
from kura.users.models import Role
from tests.factories import Member, make_owner, make_staff

PAGE_FIELDS = {"items", "total", "page", "page_size"}
# Every collection the API lists (a new one is caught by the walk below all the same).
COLLECTIONS = {
    "/api/v1/staff",
    "/api/v1/patients",
    "/api/v1/patients/{patient_id}/notes",
    "/api/v1/notes/{note_id}/versions",
    "/api/v1/services",
    "/api/v1/bookings",
    "/api/v1/invoices",
    "/api/v1/monitoring/risk-alerts",
    "/api/v1/patients/{patient_id}/monitoring/messages",
    "/api/v1/patients/{patient_id}/monitoring/analyses",
    "/api/v1/audit",
    "/api/v1/exports",
    "/api/v1/admin/backups",
}


def _resolve(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    return schema


def _json_schemas(document: dict[str, Any], operation: dict[str, Any]) -> dict[str, Any]:
    """Each answered status's JSON body schema, resolved."""
    return {
        status: _resolve(document, answer["content"]["application/json"]["schema"])
        for status, answer in operation["responses"].items()
        if "application/json" in answer.get("content", {})
    }


def _is_page(document: dict[str, Any], schema: dict[str, Any]) -> bool:
    properties = schema.get("properties", {})
    if not set(properties) >= PAGE_FIELDS or not set(schema.get("required", [])) >= PAGE_FIELDS:
        return False
    return (
        properties["items"].get("type") == "array"
        and all(properties[name].get("type") == "integer" for name in PAGE_FIELDS - {"items"})
        and "$ref" in properties["items"]["items"]  # a list of named resources
    )


def test_every_collection_is_a_page_and_nothing_answers_a_bare_array(app: FastAPI) -> None:
    document = app.openapi()
    pages: set[str] = set()
    for path, item in document["paths"].items():
        for method, operation in item.items():
            schemas = _json_schemas(document, operation)
            for status, schema in schemas.items():
                assert schema.get("type") != "array", (method, path, status)
            names = {p["name"] for p in operation.get("parameters", []) if p["in"] == "query"}
            assert not names & {"limit", "offset"}, (method, path)
            ok = schemas.get("200")
            listing = "-list-" in operation["operationId"] or (
                ok and "items" in ok.get("properties", {})
            )
            if method != "get" or not listing:
                continue
            assert ok is not None and _is_page(document, ok), (path, ok)
            pages.add(path)
            parameters = {
                p["name"]: p["schema"] for p in operation["parameters"] if p["in"] == "query"
            }
            page = parameters["page"]
            assert (page["minimum"], page["default"], page["maximum"]) == (1, 1, 100_000), path
            assert parameters["page_size"]["minimum"] == 1, path
            assert parameters["page_size"]["maximum"] == MAX_PAGE_SIZE == 200, path
            assert parameters["page_size"]["default"] == DEFAULT_PAGE_SIZE == 50, path
    assert pages == COLLECTIONS


async def test_page_two_of_one_is_the_second_item_and_the_total_counts_the_practice_only(
    client: AsyncClient, session: AsyncSession, settings: Settings, owner: Member
) -> None:
    # By name: "Assistant n", "Owner n", "Therapist n".
    assistant = await make_staff(session, settings, owner.organization, Role.ASSISTANT)
    therapist = await make_staff(session, settings, owner.organization, Role.THERAPIST)
    elsewhere = await make_owner(session, settings)
    await make_staff(session, settings, elsewhere.organization, Role.ASSISTANT)

    second = await client.get("/api/v1/staff?page=2&page_size=1", headers=owner.headers)
    assert second.status_code == 200, second.text
    body = second.json()
    assert {k: body[k] for k in ("total", "page", "page_size")} == {
        "total": 3,
        "page": 2,
        "page_size": 1,
    }
    assert [m["id"] for m in body["items"]] == [str(owner.user.id)]

    everyone = (await client.get("/api/v1/staff", headers=owner.headers)).json()
    assert everyone["page"] == 1 and everyone["page_size"] == DEFAULT_PAGE_SIZE
    assert [m["id"] for m in everyone["items"]] == [
        str(assistant.user.id),
        str(owner.user.id),
        str(therapist.user.id),
    ]
    past_the_end = await client.get("/api/v1/staff?page=4&page_size=1", headers=owner.headers)
    assert past_the_end.json()["items"] == [] and past_the_end.json()["total"] == 3

    for bad in ("page_size=201", "page_size=0", "page=0"):
        refused = await client.get(f"/api/v1/staff?{bad}", headers=owner.headers)
        assert refused.status_code == 422, bad
    assert (await client.get("/api/v1/staff?page_size=200", headers=owner.headers)).is_success
