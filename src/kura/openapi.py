"""The OpenAPI document: the contract clients are generated from (#18).

- Operation ids are `<tag>-<endpoint function>` in kebab case (`operation_id` below).
- Every tag has a description (`OPENAPI_TAGS`); `servers` lists this server and PUBLIC_BASE_URL.
- Every error a route can answer is declared, with the one shape handlers.py sends
  (`ErrorResponse`). What follows from a route's structure is derived here (`_derived`), so no
  endpoint can forget it: 401 for a route that reads the caller's session, 403 for one whose
  dependencies check a role, 404 for a path with an id, 400 for a URL with parameters (control
  characters are refused), 408/413 for a request body, 503 for a route on the database. What
  only the code behind a route knows (409, 429, ...) is in that route's `responses=`.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any, get_args

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute, RouteContext, iter_route_contexts
from fastapi.security.base import SecurityBase

from kura.config import Settings
from kura.db.session import DbSession

ERROR_SCHEMA_NAME = "ErrorResponse"
ERROR_SCHEMA = {
    "title": ERROR_SCHEMA_NAME,
    "type": "object",
    "required": ["error", "detail"],
    "properties": {
        "error": {"type": "string", "description": "Stable error code, e.g. `not_found`"},
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
_ERROR_REF = {"$ref": f"#/components/schemas/{ERROR_SCHEMA_NAME}"}
_ERROR_CONTENT = {"application/json": {"schema": _ERROR_REF}}
_RETRY_AFTER = {
    "Retry-After": {
        "description": "Seconds to wait before trying again",
        "schema": {"type": "integer"},
    }
}
# Headers every answer of a status carries (or may carry: 503 has Retry-After on an outage).
_STATUS_HEADERS: dict[str, dict[str, Any]] = {
    "401": {
        "WWW-Authenticate": {"description": "`Bearer`", "schema": {"type": "string"}},
    },
    "429": _RETRY_AFTER,
    "503": _RETRY_AFTER,
}

# One style: lowercase, one word (or kebab-case), the area of the API; each one described.
_TAGS = {
    "auth": "Sign up, sign in (password or Google), sign out; your own account, email "
    "confirmation and password.",
    "staff": "Your practice's team; the owner invites and manages it.",
    "patients": "Your practice's patients (any staff role; reads are audited).",
    "notes": "Clinical notes about a patient: owners and therapists only; every read and write "
    "is audited.",
    "practice": "Your practice's own settings: record retention and note headings, closure "
    "and export (the owner changes them).",
    "bookings": "The services your practice offers, and its agenda.",
    "availability": "Therapists' weekly hours, time off and one-off openings (the owner "
    "manages anyone's, a therapist their own, assistants read).",
    "calendar": "A clinician's private, revocable calendar address (iCalendar feed of their "
    "bookings: service and patient initials only).",
    "public-booking": "Self-booking without an account: a practice's online services, free "
    "slots and bookings, and the patient's manage link (cancel, move, pay). Rate-limited per IP.",
    "invoices": "The practice's numbered invoices of patient payments (PDF) and the details "
    "they show (owner only).",
    "payments": "Payment of bookings, your practice's subscription, and Stripe's webhook.",
    "monitoring": "WhatsApp monitoring of consenting patients: enrollment, messages, daily "
    "analyses, risk alerts and your practice's settings (owners and therapists; reads are "
    "audited).",
    "webhooks": "Inbound WhatsApp messages from Twilio (signed by Twilio, answered in TwiML).",
    "briefings": "Your morning briefing and its private audio.",
    "exports": "Patient and practice exports: a ZIP of JSON parts, a PDF and a manifest, "
    "built by a job, downloadable by its requester only until it expires.",
    "audit": "The audit trail: owners read their practice's, platform operators the whole "
    "platform's.",
    "backups": "Database backups: list, take, download, restore and delete (platform operators "
    "only).",
    "admin": "Platform operators' tools: superuser rights, practices' WhatsApp numbers, the "
    "deployment's status.",
    "health": "Liveness and readiness probes (no sign-in).",
}
OPENAPI_TAGS = [{"name": name, "description": text} for name, text in _TAGS.items()]


def operation_id(route: APIRoute) -> str:
    """`<tag>-<endpoint function name>`, kebab case: `monitoring-acknowledge-risk-alert`.

    Stable: moving a path or changing its method keeps the id (renaming the function or its tag
    does not). Unique: a function name is unique within its tag (tests/test_app.py checks the
    whole document). Readable in generated clients: openapi-python-client puts it in
    `api/monitoring/monitoring_acknowledge_risk_alert.py`. The app's `generate_unique_id_function`.
    """
    name = route.name.replace("_", "-")
    return f"{route.tags[0]}-{name}" if route.tags else name


def api_servers(settings: Settings) -> list[dict[str, str]]:
    """This server (relative, so /docs works wherever it is served) and the public URL."""
    servers = [{"url": "/", "description": "This server"}]
    if settings.public_base_url:
        servers.append({"url": settings.public_base_url, "description": "Public URL"})
    return servers


def install_openapi(app: FastAPI) -> None:
    """Build the document once: FastAPI's, with our error shape and the derived statuses."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        document = get_openapi(
            title=app.title,
            version=app.version,
            summary=app.summary,
            routes=app.routes,
            tags=app.openapi_tags,
            servers=app.servers,
        )
        schemas = document.setdefault("components", {}).setdefault("schemas", {})
        schemas[ERROR_SCHEMA_NAME] = ERROR_SCHEMA
        for name in ("HTTPValidationError", "ValidationError"):
            schemas.pop(name, None)
        # FastAPI keeps included routers whole (app.routes is not flat): its own iterator.
        for route in iter_route_contexts(app.routes):
            if isinstance(route.original_route, APIRoute) and route.include_in_schema:
                for method in route.methods or ():
                    operation = document["paths"][route.path_format][method.lower()]
                    _declare_errors(operation, _derived(route))
        app.openapi_schema = document
        return document

    # FastAPI's documented way to customise the document is to replace this method.
    app.openapi = openapi  # type: ignore[method-assign]


_SESSION_DEPENDENCY = get_args(DbSession)[1].dependency


def _dependants(dependant: Dependant) -> Iterator[Dependant]:
    for sub in dependant.dependencies:
        yield sub
        yield from _dependants(sub)


def _is_scheme(dependant: Dependant) -> bool:
    return isinstance(dependant.call, SecurityBase)


def _authenticates(dependant: Dependant) -> bool:
    """Reads a credential (cookie, bearer token) itself: the session check, refusing with 401."""
    return any(_is_scheme(sub) for sub in dependant.dependencies)


def _authorizes(dependant: Dependant) -> bool:
    """Takes the authenticated caller: a role check (Owner, ClinicalStaff, SuperAdmin...)."""
    return any(_authenticates(sub) for sub in dependant.dependencies)


def _derived(route: RouteContext) -> dict[str, str]:
    """The statuses a route answers because of how it is built, with what they mean there."""
    dependencies = list(_dependants(route.dependant))
    statuses: dict[str, str] = {}
    if any(d.path_params or d.query_params for d in [route.dependant, *dependencies]):
        statuses["400"] = "The URL contains control characters"
    if any(_authenticates(d) for d in dependencies):
        statuses["401"] = "Not signed in, or the session has ended"
    if any(_authorizes(d) for d in dependencies):
        statuses["403"] = "Your role may not do this"
    if "{" in (route.path_format or ""):  # an id in the path
        statuses["404"] = "Not found (or not in your organization)"
    if route.body_field is not None:
        statuses["408"] = "The request body stalled"
        statuses["413"] = "The request body is too large"
    if any(d.call is _SESSION_DEPENDENCY for d in dependencies):
        statuses["503"] = "The database is unavailable (see Retry-After)"
    return statuses


def _declare_errors(operation: dict[str, Any], derived: dict[str, str]) -> None:
    """Add the derived statuses (a route's own description wins), give every error our shape
    and its headers, and list the responses in order."""
    responses: dict[str, Any] = operation.setdefault("responses", {})
    for status, description in derived.items():
        responses.setdefault(status, {"description": description})
    for status, response in responses.items():
        if status == "422" and response.get("description") == "Validation Error":
            response["description"] = "The request does not match the schema"
        if status == "422" or (status[0] in "45" and "content" not in response):
            response["content"] = copy.deepcopy(_ERROR_CONTENT)
        if status in _STATUS_HEADERS:
            response.setdefault("headers", {}).update(copy.deepcopy(_STATUS_HEADERS[status]))
        for media in response.get("content", {}).values():
            # FastAPI titles an inline schema after the operation id ("Response Payments-Stripe-
            # Webhook"), which generated clients would turn into a class name.
            if str(media.get("schema", {}).get("title", "")).startswith("Response "):
                del media["schema"]["title"]
    operation["responses"] = dict(sorted(responses.items()))


DOCS_ASSETS = "/docs/assets"


def install_docs(app: FastAPI) -> None:
    """Swagger UI at /docs with its scripts served from the wheel, not a CDN (works offline)."""
    from importlib.resources import files

    from fastapi.openapi.docs import get_swagger_ui_html
    from fastapi.responses import HTMLResponse
    from fastapi.staticfiles import StaticFiles

    assets = files("fastapi_offline") / "static"
    app.mount(DOCS_ASSETS, StaticFiles(directory=str(assets)), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=app.openapi_url or "",
            title=f"{app.title} — API",
            swagger_js_url=f"{DOCS_ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{DOCS_ASSETS}/swagger-ui.css",
            swagger_favicon_url=f"{DOCS_ASSETS}/favicon.png",
        )
