"""OpenTelemetry (#17): request, SQL and httpx spans; both trace headers continued; nothing
private in a span; each JSON log line of a request names its span; nothing loaded when off."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx
from asgi_lifespan import LifespanManager
from httpx import ASGITransport, AsyncClient
from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor
from opentelemetry.propagate import get_global_textmap
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from kura.app import create_app
from kura.config import Settings
from kura.db.engine import Database
from kura.logging import configure_logging
from kura.tracing import Tracing, configure_tracing, exporter_for
from tests.factories import Member
from tests.test_architecture import PACKAGE, _domains, _imports

PROJECT = "kura-os"
TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT = "00f067aa0ba902b7"
PRIVATE = "PRIVATE-NAME"


def _on(settings: Settings) -> Settings:
    return settings.model_copy(
        update={
            "tracing": "console",
            "tracing_sample_rate": 1.0,
            "log_format": "json",
            "google_cloud_project": PROJECT,
        }
    )


@dataclass
class Traced:
    client: AsyncClient
    exporter: InMemorySpanExporter
    tracing: Tracing
    log: io.StringIO

    def spans(self) -> list[ReadableSpan]:
        return list(self.exporter.get_finished_spans())

    def server_span(self) -> ReadableSpan:
        (server,) = [s for s in self.spans() if s.kind is SpanKind.SERVER]
        return server

    def sql_spans(self) -> list[ReadableSpan]:
        return [s for s in self.spans() if (s.attributes or {}).get("db.system") == "postgresql"]

    def log_lines(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.log.getvalue().splitlines()]


@pytest.fixture
async def traced(settings: Settings, database: Database) -> AsyncIterator[Traced]:
    """The app as create_app builds it, traced to an in-memory exporter (no global provider)."""
    on = _on(settings)
    app = create_app(settings, database=database)
    exporter = InMemorySpanExporter()
    tracing = configure_tracing(on, app, database.engine, exporter=exporter)
    log = io.StringIO()
    configure_logging(on, stream=log)
    try:
        async with (
            LifespanManager(app) as manager,
            AsyncClient(transport=ASGITransport(manager.app), base_url="http://test") as client,
        ):
            yield Traced(client, exporter, tracing, log)
    finally:
        tracing.shutdown()
        configure_logging(settings)


def _hex(span: ReadableSpan) -> tuple[str, str]:
    assert span.context is not None
    return f"{span.context.trace_id:032x}", f"{span.context.span_id:016x}"


def _everything_recorded(spans: list[ReadableSpan]) -> str:
    """Each span's name, attributes, events, links and status as one text to search."""
    return json.dumps(
        [
            {
                "name": s.name,
                "attributes": dict(s.attributes or {}),
                "events": [(e.name, dict(e.attributes or {})) for e in s.events],
                "links": [dict(link.attributes or {}) for link in s.links],
                "status": s.status.description,
                "resource": dict(s.resource.attributes),
            }
            for s in spans
        ],
        default=str,
    )


async def test_a_request_is_a_server_span_with_its_sql_spans_as_children(
    traced: Traced, owner: Member
) -> None:
    answer = await traced.client.get("/api/v1/patients", headers=owner.headers)
    assert answer.status_code == 200
    server = traced.server_span()
    assert server.name == "GET /api/v1/patients"
    attributes = server.attributes or {}
    assert attributes["http.route"] == "/api/v1/patients"
    assert attributes["http.status_code"] == 200
    sql = traced.sql_spans()
    assert len(sql) >= 2  # the session lookup and the page, at least
    assert server.context is not None
    for span in sql:
        assert span.kind is SpanKind.CLIENT
        assert span.context is not None and span.parent is not None
        assert span.context.trace_id == server.context.trace_id
        assert span.parent.span_id == server.context.span_id
        assert span.name.split()[0] == str((span.attributes or {})["db.statement"]).split()[0]
    assert any("FROM patient" in str((s.attributes or {})["db.statement"]) for s in sql)


async def test_an_incoming_traceparent_is_continued(traced: Traced) -> None:
    header = {"traceparent": f"00-{TRACE}-{PARENT}-01"}
    assert (await traced.client.get("/api/v1/auth/me", headers=header)).status_code == 401
    server = traced.server_span()
    assert _hex(server)[0] == TRACE
    assert server.parent is not None and f"{server.parent.span_id:016x}" == PARENT
    assert server.parent.is_remote


async def test_an_incoming_x_cloud_trace_context_is_continued(traced: Traced) -> None:
    header = {"X-Cloud-Trace-Context": f"{TRACE}/{int(PARENT, 16)};o=1"}
    assert (await traced.client.get("/api/v1/auth/me", headers=header)).status_code == 401
    server = traced.server_span()
    assert _hex(server)[0] == TRACE
    assert server.parent is not None and f"{server.parent.span_id:016x}" == PARENT


async def test_a_caller_that_did_not_sample_is_followed_and_its_lines_keep_the_trace(
    traced: Traced,
) -> None:
    header = {"traceparent": f"00-{TRACE}-{PARENT}-00"}
    assert (await traced.client.get("/api/v1/auth/me", headers=header)).status_code == 401
    assert traced.spans() == []
    (access,) = [line for line in traced.log_lines() if line["message"] == "request"]
    assert access["logging.googleapis.com/trace"] == f"projects/{PROJECT}/traces/{TRACE}"
    assert access["logging.googleapis.com/trace_sampled"] is False


async def test_no_span_holds_a_query_string_header_body_or_sql_value(
    traced: Traced, owner: Member
) -> None:
    headers = {**owner.headers, "User-Agent": f"agent {PRIVATE}", "X-Note": PRIVATE}
    created = await traced.client.post(
        "/api/v1/patients", headers=headers, json={"full_name": f"Ana {PRIVATE}"}
    )
    assert created.status_code == 201, created.text
    found = await traced.client.get(
        "/api/v1/patients", params={"q": PRIVATE, "page": 1}, headers=headers
    )
    assert found.status_code == 200 and found.json()["total"] == 1
    spans = traced.spans()
    assert len([s for s in spans if s.kind is SpanKind.SERVER]) == 2
    statements = [str((s.attributes or {}).get("db.statement")) for s in spans]
    assert any(s.startswith("INSERT INTO patient ") for s in statements)
    recorded = _everything_recorded(spans)
    assert PRIVATE not in recorded
    assert owner.token not in recorded and "Bearer" not in recorded
    assert "?" not in json.dumps([(s.attributes or {}).get("http.url") for s in spans])
    for span in spans:
        keys = set(span.attributes or {})
        assert not {k for k in keys if "header" in k or "user_agent" in k or "peer.ip" in k}
        assert not keys & {"url.query", "client.address", "http.client_ip", "net.peer.ip"}
    search = [s for s in spans if s.name == "GET /api/v1/patients"][-1]
    assert (search.attributes or {})["http.target"] == "/api/v1/patients"


def test_an_exception_keeps_its_type_only(traced: Traced) -> None:
    tracer = traced.tracing.provider.get_tracer("test")
    with tracer.start_as_current_span("request", kind=SpanKind.SERVER) as span:
        span.set_attribute("http.url", f"https://api.kuraos.ai/x?q={PRIVATE}#{PRIVATE}")
        span.set_attribute("http.request.header.authorization", PRIVATE)
        span.set_attribute("enduser.id", PRIVATE)
        span.record_exception(ValueError(f'Key (full_name)=({PRIVATE}) already exists"'))
        span.set_status(StatusCode.ERROR, f"IntegrityError: {PRIVATE}")
    (exported,) = traced.spans()
    assert PRIVATE not in _everything_recorded([exported])
    assert dict(exported.attributes or {}) == {"http.url": "https://api.kuraos.ai/x"}
    assert exported.status.status_code is StatusCode.ERROR
    ((name, attributes),) = [(e.name, dict(e.attributes or {})) for e in exported.events]
    assert name == "exception" and attributes["exception.type"] == "ValueError"
    assert set(attributes) <= {"exception.type", "exception.escaped"}


@respx.mock
async def test_an_outgoing_call_is_a_child_span_without_query_and_sends_no_trace_header(
    traced: Traced,
) -> None:
    route = respx.get("https://api.example.org/v1/thing").mock(return_value=httpx.Response(204))
    tracer = traced.tracing.provider.get_tracer("test")
    with tracer.start_as_current_span("request", kind=SpanKind.SERVER):
        async with httpx.AsyncClient() as client:
            answer = await client.get(f"https://api.example.org/v1/thing?key={PRIVATE}")
    assert answer.status_code == 204
    sent = route.calls.last.request.headers
    assert "traceparent" not in sent and "x-cloud-trace-context" not in sent
    server = traced.server_span()
    (outgoing,) = [s for s in traced.spans() if s.kind is SpanKind.CLIENT]
    assert outgoing.context is not None and server.context is not None
    assert outgoing.context.trace_id == server.context.trace_id
    attributes = outgoing.attributes or {}
    assert attributes["http.url"] == "https://api.example.org/v1/thing"
    assert attributes["http.status_code"] == 204
    assert PRIVATE not in _everything_recorded(traced.spans())


async def test_queries_outside_a_request_start_no_trace(traced: Traced, database: Database) -> None:
    await database.ping()  # as the worker's or start-up's SQL: no request, no trace
    assert traced.spans() == []


async def test_json_log_lines_of_a_request_name_its_trace_and_span(
    traced: Traced, owner: Member
) -> None:
    header = {**owner.headers, "traceparent": f"00-{TRACE}-{PARENT}-01"}
    assert (await traced.client.get("/api/v1/patients", headers=header)).status_code == 200
    trace_id, span_id = _hex(traced.server_span())
    assert trace_id == TRACE
    lines = [line for line in traced.log_lines() if line.get("path") == "/api/v1/patients"]
    assert lines
    for line in lines:
        assert line["logging.googleapis.com/trace"] == f"projects/{PROJECT}/traces/{TRACE}"
        assert line["logging.googleapis.com/spanId"] == span_id
        assert line["logging.googleapis.com/trace_sampled"] is True
    request_ids = {line["request_id"] for line in lines}
    same_request = [line for line in traced.log_lines() if line.get("request_id") in request_ids]
    assert all("logging.googleapis.com/spanId" in line for line in same_request)


async def test_create_app_wires_tracing_on_and_undoes_it_at_shutdown(
    settings: Settings, database: Database, owner: Member
) -> None:
    on = _on(settings)
    before = get_global_textmap()
    app = create_app(on, database=database)
    tracing: Tracing = app.state.tracing
    exporter = InMemorySpanExporter()
    tracing.provider.add_span_processor(SimpleSpanProcessor(exporter))
    try:
        async with (
            LifespanManager(app) as manager,
            AsyncClient(transport=ASGITransport(manager.app), base_url="http://test") as client,
        ):
            assert (await client.get("/api/v1/patients", headers=owner.headers)).status_code == 200
            assert SQLAlchemyInstrumentor().is_instrumented_by_opentelemetry
    finally:
        configure_logging(settings)
    kinds = {s.kind for s in exporter.get_finished_spans()}
    assert kinds == {SpanKind.SERVER, SpanKind.CLIENT}  # the request and its SQL (lifespan)
    assert not SQLAlchemyInstrumentor().is_instrumented_by_opentelemetry
    assert not getattr(app, "_is_instrumented_by_opentelemetry", False)
    assert get_global_textmap() is before


@pytest.fixture
def clean_env(tmp_path: Path) -> Iterator[dict[str, str]]:
    yield {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "KURA_DATA_DIR": str(tmp_path)}


def _opentelemetry_modules(code: str, env: dict[str, str]) -> set[str]:
    code += "\nimport sys; print(' '.join(m for m in sys.modules if m.startswith('opentelemetry')))"
    run = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    return set(run.stdout.split())


def test_with_tracing_off_create_app_loads_nothing_of_opentelemetry(
    clean_env: dict[str, str],
) -> None:
    """Beyond the API that FastAPI itself imports (its native telemetry checks for a global
    provider): no SDK, instrumentation, exporter or propagator, which cost the cold start."""
    build = (
        "import kura.app\nfrom kura.config import load_settings\n"
        "kura.app.create_app(load_settings(environment='test', tracing='{}'))"
    )
    fastapi_alone = _opentelemetry_modules("import fastapi", clean_env)
    off = _opentelemetry_modules(build.format("off"), clean_env)
    on = _opentelemetry_modules(build.format("console"), clean_env)
    assert off == fastapi_alone
    assert not {
        m for m in off if m.startswith(("opentelemetry.sdk", "opentelemetry.instrumentation"))
    }
    assert {"opentelemetry.sdk.trace", "opentelemetry.instrumentation.fastapi"} <= on


def test_tracing_imports_no_domain() -> None:
    """tracing.py belongs to the core, like logging.py: the rule of test_architecture."""
    domains = _domains()
    imported = _imports(PACKAGE / "tracing.py")
    assert not {m for m in imported if m.startswith("kura.") and m.split(".")[1] in domains}


def test_cloud_trace_exports_to_the_configured_project(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The exporter is built (gRPC channels connect lazily) as the runtime account would be."""
    import google.auth
    from google.auth.credentials import AnonymousCredentials

    # google-auth leaves AnonymousCredentials.__init__ unannotated
    anonymous = AnonymousCredentials()  # type: ignore[no-untyped-call]
    monkeypatch.setattr(google.auth, "default", lambda *_, **__: (anonymous, "x"))
    on = settings.model_copy(update={"tracing": "cloud-trace", "google_cloud_project": PROJECT})
    # Google now points to OTLP into its Telemetry API instead (a follow-up); this still works.
    with pytest.warns(DeprecationWarning, match="CloudTraceSpanExporter is deprecated"):
        exporter: Any = exporter_for(on)
    assert type(exporter).__name__ == "CloudTraceSpanExporter"
    assert exporter.project_id == PROJECT
    exporter.shutdown()
