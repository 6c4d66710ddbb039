"""OpenTelemetry traces (TRACING=cloud-trace|console): FastAPI, SQLAlchemy and httpx spans.

Imported only when tracing is on (create_app imports this module then; with TRACING=off
nothing of OpenTelemetry is loaded, which keeps Cloud Run's cold start as it was).

- Sampling: a caller's decision is followed (Cloud Run's front end sends `traceparent` and
  `X-Cloud-Trace-Context` with its sampled flag); a trace that starts here is kept at
  TRACING_SAMPLE_RATE. Traces start only at an incoming request: SQL and HTTP calls outside
  one (the job worker, start-up) are not traced, or each query would be a trace of its own.
- Propagation: both headers are read; none is written on outgoing calls (they all go to third
  parties — Stripe, Twilio, OpenAI, Google, Brevo — which have no use for our trace ids).
- Privacy (the house rule: no clinical text, personal data or secret in any tracker): every
  span passes `_Scrubbed` before it is exported, which keeps only the attributes named in
  `_SAFE_ATTRIBUTES`, with any query string and fragment cut from a URL (patient search puts
  names in `?q=`, outgoing calls may carry keys there). No header, body, client address or
  user agent, no SQL parameter (`db.statement` is the parameterised statement; sqlcommenter
  stays off), no exception message or stack trace (a database error quotes the row it
  refused: only `exception.type` is kept), no status description.
- The provider is handed to each instrumentation rather than installed as OpenTelemetry's
  global one (which can be set once per process): a test makes its own with an in-memory
  exporter. Code that wants a span of its own: `app.state.tracing.provider.get_tracer(...)`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor
from opentelemetry.propagate import get_global_textmap, set_global_textmap
from opentelemetry.propagators.cloud_trace_propagator import CloudTraceFormatPropagator
from opentelemetry.propagators.composite import CompositePropagator
from opentelemetry.propagators.textmap import (
    CarrierT,
    Getter,
    Setter,
    TextMapPropagator,
    default_getter,
    default_setter,
)
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Event, ReadableSpan, Span, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    ConsoleSpanExporter,
    SimpleSpanProcessor,
    SpanExporter,
)
from opentelemetry.sdk.trace.sampling import (
    Decision,
    ParentBased,
    Sampler,
    SamplingResult,
    TraceIdRatioBased,
)
from opentelemetry.trace import Link, SpanKind, TraceState
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from opentelemetry.trace.status import Status
from opentelemetry.util.types import Attributes, AttributeValue

from kura import __version__

if TYPE_CHECKING:
    from fastapi import FastAPI
    from sqlalchemy.ext.asyncio import AsyncEngine

    from kura.config import Settings

SERVICE_NAME = "kura-backend"
# Liveness and readiness probes arrive every few seconds: never a trace.
EXCLUDED_URLS = r"/health$,/health/ready$"

# What a span may keep (old and stable HTTP/DB semantic conventions alike); anything else an
# instrumentation records, now or in a later version, is dropped before export.
_URL_ATTRIBUTES = frozenset({"http.url", "url.full", "http.target"})
_SAFE_ATTRIBUTES = _URL_ATTRIBUTES | {
    "http.method",
    "http.request.method",
    "http.request.method_original",
    "http.status_code",
    "http.response.status_code",
    "http.route",
    "url.path",
    "http.scheme",
    "url.scheme",
    "http.flavor",
    "network.protocol.version",
    "http.server_name",
    "http.host",
    "net.host.name",
    "net.host.port",
    "server.address",
    "server.port",
    "net.peer.name",
    "net.transport",
    "network.transport",
    "error.type",
    "db.system",
    "db.system.name",
    "db.name",
    "db.namespace",
    "db.user",
    "db.statement",
    "db.query.text",
    "db.operation",
    "db.operation.name",
}
_SAFE_EVENT_ATTRIBUTES = frozenset({"exception.type", "exception.escaped"})


def _without_query(url: str) -> str:
    return url.split("#", 1)[0].split("?", 1)[0]


def _safe_attributes(attributes: Attributes) -> dict[str, AttributeValue]:
    safe: dict[str, AttributeValue] = {}
    for key, value in (attributes or {}).items():
        if key not in _SAFE_ATTRIBUTES:
            continue
        if key in _URL_ATTRIBUTES and isinstance(value, str):
            value = _without_query(value)
        safe[key] = value
    return safe


def _scrubbed(span: ReadableSpan) -> ReadableSpan:
    events = [
        Event(
            event.name,
            {k: v for k, v in (event.attributes or {}).items() if k in _SAFE_EVENT_ATTRIBUTES},
            event.timestamp,
        )
        for event in span.events
    ]
    return ReadableSpan(
        name=span.name,
        context=span.context,
        parent=span.parent,
        resource=span.resource,
        attributes=_safe_attributes(span.attributes),
        events=events,
        links=[Link(link.context) for link in span.links],
        kind=span.kind,
        status=Status(span.status.status_code),
        start_time=span.start_time,
        end_time=span.end_time,
        instrumentation_scope=span.instrumentation_scope,
    )


class _Scrubbed(SpanProcessor):
    """Hands the wrapped processor (and so the exporter) a copy of each ended span that holds
    only what `_SAFE_ATTRIBUTES` allows."""

    def __init__(self, inner: SpanProcessor) -> None:
        self._inner = inner

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        self._inner.on_start(span, parent_context)

    def on_end(self, span: ReadableSpan) -> None:
        self._inner.on_end(_scrubbed(span))

    def shutdown(self) -> None:
        self._inner.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self._inner.force_flush(timeout_millis)


class _RequestsOnly(Sampler):
    """ParentBased(TraceIdRatioBased(rate)) for a request's spans; a root span that is not an
    incoming request (a worker's query, a start-up check) is dropped."""

    def __init__(self, rate: float) -> None:
        self._inner = ParentBased(TraceIdRatioBased(rate))

    def should_sample(
        self,
        parent_context: Context | None,
        trace_id: int,
        name: str,
        kind: SpanKind | None = None,
        attributes: Attributes = None,
        links: Sequence[Link] | None = None,
        trace_state: TraceState | None = None,
    ) -> SamplingResult:
        parent = trace.get_current_span(parent_context).get_span_context()
        if not parent.is_valid and kind is not SpanKind.SERVER:
            return SamplingResult(Decision.DROP)
        return self._inner.should_sample(
            parent_context, trace_id, name, kind, attributes, links, trace_state
        )

    def get_description(self) -> str:
        # the SDK leaves Sampler.get_description unannotated
        inner = self._inner.get_description()  # type: ignore[no-untyped-call]
        return f"RequestsOnly{{{inner}}}"


class _ExtractOnly(TextMapPropagator):
    """Reads `X-Cloud-Trace-Context` and W3C `traceparent` (which wins when both are sent);
    writes nothing into outgoing requests."""

    def __init__(self) -> None:
        self._readers = CompositePropagator(
            [CloudTraceFormatPropagator(), TraceContextTextMapPropagator()]
        )

    def extract(
        self,
        carrier: CarrierT,
        context: Context | None = None,
        getter: Getter[CarrierT] = default_getter,
    ) -> Context:
        return self._readers.extract(carrier, context, getter)

    def inject(
        self,
        carrier: CarrierT,
        context: Context | None = None,
        setter: Setter[CarrierT] = default_setter,
    ) -> None:
        return

    @property
    def fields(self) -> set[str]:
        return set()


def exporter_for(settings: Settings) -> SpanExporter:
    if settings.tracing == "cloud-trace":
        # gRPC to the Cloud Trace API as the runtime service account (roles/cloudtrace.agent).
        from opentelemetry.exporter.cloud_trace import CloudTraceSpanExporter

        exporter: SpanExporter = CloudTraceSpanExporter(project_id=settings.google_cloud_project)
        return exporter
    return ConsoleSpanExporter()


class Tracing:
    """The tracer provider and what was instrumented with it; `shutdown()` undoes it all."""

    def __init__(self, provider: TracerProvider, app: FastAPI, previous: TextMapPropagator):
        self.provider = provider
        self._app = app
        self._previous_propagator = previous
        self._engine_instrumented = False

    def instrument_engine(self, engine: AsyncEngine) -> None:
        """SQL spans for the app's engine (created in the lifespan, after create_app)."""
        if self._engine_instrumented:
            return
        SQLAlchemyInstrumentor().instrument(
            engine=engine.sync_engine,
            tracer_provider=self.provider,
            enable_commenter=False,
            # It declares sqlalchemy < 2.1; its engine events are unchanged in 2.1 (the tests
            # check the SQL spans).
            skip_dep_check=True,
        )
        self._engine_instrumented = True

    def shutdown(self) -> None:
        """Uninstrument, restore the propagator, export what is pending and stop."""
        FastAPIInstrumentor.uninstrument_app(self._app)
        HTTPXClientInstrumentor().uninstrument()
        if self._engine_instrumented:
            SQLAlchemyInstrumentor().uninstrument()
            self._engine_instrumented = False
        set_global_textmap(self._previous_propagator)
        self.provider.shutdown()


def configure_tracing(
    settings: Settings,
    app: FastAPI,
    engine: AsyncEngine | None = None,
    *,
    exporter: SpanExporter | None = None,
) -> Tracing:
    """Trace the app's requests, its SQL (now for `engine`, or later through
    `instrument_engine`) and its httpx calls, to the exporter TRACING names (or `exporter`)."""
    provider = TracerProvider(
        sampler=_RequestsOnly(settings.tracing_sample_rate),
        resource=Resource.create({"service.name": SERVICE_NAME, "service.version": __version__}),
    )
    if exporter is None and settings.tracing == "cloud-trace":
        processor: SpanProcessor = BatchSpanProcessor(exporter_for(settings))
    else:
        processor = SimpleSpanProcessor(exporter or exporter_for(settings))
    provider.add_span_processor(_Scrubbed(processor))

    previous = get_global_textmap()
    set_global_textmap(_ExtractOnly())
    FastAPIInstrumentor.instrument_app(
        app,
        tracer_provider=provider,
        excluded_urls=EXCLUDED_URLS,
        # One span per request, not one more per ASGI message.
        exclude_spans=["receive", "send"],
    )
    HTTPXClientInstrumentor().instrument(tracer_provider=provider)
    tracing = Tracing(provider, app, previous)
    if engine is not None:
        tracing.instrument_engine(engine)
    return tracing
