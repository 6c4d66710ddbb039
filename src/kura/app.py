"""create_app(): routers, middleware, error handlers and the lifespan that owns every client."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from fastapi import APIRouter, FastAPI
from fastapi.middleware.cors import CORSMiddleware
from sqlalchemy.engine import URL
from starlette.types import Receive, Scope, Send

import kura.registry  # noqa: F401  (the wiring: every domain's models, tasks, schedules)
from kura import __version__
from kura.aletheia.classifier import warm_up
from kura.config import Settings, load_settings
from kura.db.engine import Database
from kura.db.location import configured_url, embedded_server
from kura.errors import ConfigError
from kura.handlers import install_error_handlers
from kura.logging import configure_logging, configure_sentry, get_logger
from kura.middleware import (
    RequestContextMiddleware,
    RequestLimitsMiddleware,
    SecurityHeadersMiddleware,
)
from kura.openapi import OPENAPI_TAGS, api_servers, install_docs, install_openapi, operation_id
from kura.ops.endpoints import HEALTH_BODY
from kura.ops.endpoints import router as ops_router

API_PREFIX = "/api/v1"
log = get_logger(__name__)


class KuraAPI(FastAPI):
    """FastAPI with a liveness fast path: GET/HEAD /health is answered before the framework.

    Probes arrive every few seconds on every instance and must cost almost nothing even under
    load; they get no access-log line either (they would drown real traffic in the logs).
    """

    _health_headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(HEALTH_BODY)).encode()),
    ]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == "/health":
            method = scope["method"]
            if method in ("GET", "HEAD"):
                start = {"type": "http.response.start", "status": 200}
                await send({**start, "headers": self._health_headers})
                body = HEALTH_BODY if method == "GET" else b""
                await send({"type": "http.response.body", "body": body})
                return
        await super().__call__(scope, receive, send)


def create_app(settings: Settings | None = None, *, database: Database | None = None) -> FastAPI:
    """Build the ASGI app. Nothing connects until the lifespan starts.

    `database` lets a caller (the tests) supply sessions bound to its own connection; the app
    then neither creates nor disposes an engine and runs no worker.
    """
    settings = settings or load_settings()
    problems = settings.production_problems()
    if problems:
        raise ConfigError("Refusing to start in production: " + "; ".join(problems) + ".")
    configure_logging(settings)
    configure_sentry(settings)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with contextlib.AsyncExitStack() as stack:
            db = database
            if db is None:
                url = configured_url(settings)
                if url is None:  # run by a bare ASGI server without `kura serve`
                    server = embedded_server(settings)
                    url = await asyncio.to_thread(server.start)
                    stack.callback(server.stop)
                from kura.backups.recovery import prepare_database

                await prepare_database(url, settings)
                db = Database.connect(
                    url, pool_size=settings.db_pool_size, max_overflow=settings.db_max_overflow
                )
                stack.push_async_callback(db.dispose)
                if settings.kura_run_worker:
                    await stack.enter_async_context(_in_process_worker(url, db, settings))
            app.state.database = db
            if tracing is not None:
                tracing.instrument_engine(db.engine)
                stack.callback(tracing.shutdown)
            warm_up()  # the crisis screen's model, off the event loop
            log.info("app.started", version=__version__, environment=settings.environment)
            yield
        log.info("app.stopped")

    app = KuraAPI(
        title="KURA OS API",
        version=__version__,
        summary="The operating system for therapists' and healers' practices.",
        openapi_url=f"{API_PREFIX}/openapi.json" if settings.serves_api_docs else None,
        openapi_tags=OPENAPI_TAGS,
        servers=api_servers(settings),
        generate_unique_id_function=operation_id,
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan,
        # Starlette's slash redirects build an absolute URL from the Host header (reflected).
        redirect_slashes=False,
        # FastAPI's own OpenTelemetry (on once any global provider exists) records exception
        # messages and rejected input: never. TRACING uses kura/tracing.py's scrubbed spans.
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    app.state.settings = settings
    tracing = None
    if settings.tracing != "off":  # imported only then: OpenTelemetry costs cold-start time
        from kura.tracing import configure_tracing

        tracing = app.state.tracing = configure_tracing(settings, app)
    install_error_handlers(app)
    if settings.backend_cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.backend_cors_origins,
            allow_credentials=True,
            allow_methods=["*"],
            allow_headers=["*"],
        )
    app.add_middleware(
        RequestLimitsMiddleware,
        max_body=settings.max_request_body_bytes,
        body_timeout=settings.request_body_timeout_seconds,
    )
    app.add_middleware(SecurityHeadersMiddleware, hsts=settings.is_production)
    app.add_middleware(RequestContextMiddleware)
    app.include_router(ops_router)
    for router in _api_routers():
        app.include_router(router, prefix=API_PREFIX)
    from kura.console import install_console

    install_console(app)
    from kura.workspace import install_workspace

    install_workspace(app)
    from kura.bookings.manage_pages import install_manage_pages

    install_manage_pages(app)
    install_openapi(app)
    if settings.serves_api_docs:
        install_docs(app)
    return app


def _api_routers() -> list[APIRouter]:
    from kura.audit.endpoints import router as audit
    from kura.auth.endpoints import router as auth
    from kura.auth.mfa_endpoints import router as mfa
    from kura.auth.practice_security import router as practice_security
    from kura.backups.endpoints import router as backups
    from kura.bookings.availability_endpoints import page_router as booking_page
    from kura.bookings.availability_endpoints import router as availability
    from kura.bookings.calendar_endpoints import router as calendar_feeds
    from kura.bookings.endpoints import router as bookings
    from kura.bookings.public_endpoints import router as public_booking
    from kura.briefings.endpoints import router as briefings
    from kura.clinical.endpoints import router as clinical
    from kura.exports.endpoints import router as exports
    from kura.invoices.endpoints import router as invoices
    from kura.monitoring.endpoints import router as monitoring
    from kura.monitoring.webhook import router as webhooks
    from kura.ops.status import router as status
    from kura.orgs.admin_endpoints import router as organizations_admin
    from kura.orgs.closure_endpoints import router as practice_closure
    from kura.orgs.records_endpoints import router as practice_records
    from kura.patients.endpoints import router as patients
    from kura.payments.endpoints import router as payments
    from kura.users.endpoints import router as users

    return [
        auth,
        mfa,
        users,
        patients,
        clinical,
        bookings,
        availability,
        booking_page,
        calendar_feeds,
        public_booking,
        payments,
        invoices,
        monitoring,
        webhooks,
        briefings,
        audit,
        backups,
        status,
        organizations_admin,
        practice_records,
        exports,
        practice_closure,
        practice_security,
    ]


@contextlib.asynccontextmanager
async def _in_process_worker(
    url: URL, database: Database, settings: Settings
) -> AsyncIterator[None]:
    # Imported here: the queue is not needed to import the app (cold start) or in tests.
    from kura.jobs.queue import job_queue
    from kura.jobs.worker import run_worker_supervised

    async with job_queue(url, max_size=settings.job_pool_size) as queue:
        task = asyncio.create_task(run_worker_supervised(queue, database, settings))
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
