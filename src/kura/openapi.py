"""The OpenAPI document: error responses are declared with the shape the API really sends."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

ERROR_SCHEMA = {
    "title": "Error",
    "type": "object",
    "required": ["error", "detail"],
    "properties": {
        "error": {"type": "string", "description": "Stable error code"},
        "detail": {"type": "string", "description": "What went wrong, for people"},
        "errors": {
            "type": "array",
            "description": "Validation problems (422 only)",
            "items": {
                "type": "object",
                "properties": {
                    "loc": {"type": "array", "items": {"type": "string"}},
                    "msg": {"type": "string"},
                },
            },
        },
    },
}
_ERROR_REF = {"$ref": "#/components/schemas/Error"}


def install_openapi(app: FastAPI) -> None:
    """FastAPI documents 422 as its own `{detail: [...]}`; ours is {"error", "detail", ...}."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        document = get_openapi(
            title=app.title,
            version=app.version,
            summary=app.summary,
            routes=app.routes,
        )
        schemas = document.setdefault("components", {}).setdefault("schemas", {})
        schemas["Error"] = ERROR_SCHEMA
        for name in ("HTTPValidationError", "ValidationError"):
            schemas.pop(name, None)
        for item in document.get("paths", {}).values():
            for operation in item.values():
                for status, response in operation.get("responses", {}).items():
                    if status == "422" or (status[0] in "45" and "content" not in response):
                        response["content"] = {"application/json": {"schema": _ERROR_REF}}
        app.openapi_schema = document
        return document

    # FastAPI's documented way to customise the document is to replace this method.
    app.openapi = openapi  # type: ignore[method-assign]
