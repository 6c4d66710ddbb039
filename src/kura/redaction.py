"""What an error may say about user data: nothing. Used by the log renderer and Sentry.

A database error's text can quote the row it refused ("Failing row contains (… the note …)",
"Key (email)=(ana@…) already exists") and a validation error keeps the input it rejected. Such
exceptions are rendered from what is safe to keep — class, SQLSTATE, constraint, table and
column names, the parameterised statement — and never from their message.
"""

from __future__ import annotations

import re
import traceback
from collections.abc import Iterator
from typing import Any

import psycopg
import pydantic
from sqlalchemy import exc as sa_exc

WITHHELD = "[withheld: may contain user data]"
_QUOTED_TAIL = re.compile(r':\s*".*$', re.DOTALL)
_PARAMETERS = re.compile(r"\[parameters: .*?\]", re.DOTALL)
_STATEMENT_CHARS = 300


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or (
            None if current.__suppress_context__ else current.__context__
        )


def _psycopg_text(error: psycopg.Error) -> str:
    diag = error.diag
    # The primary message names objects, except a trailing quoted input value.
    primary = _QUOTED_TAIL.sub(': "[value withheld]"', diag.message_primary or "")
    parts = [f"SQLSTATE {error.sqlstate or 'unknown'}", primary]
    for label, value in (
        ("table", diag.table_name),
        ("column", diag.column_name),
        ("constraint", diag.constraint_name),
    ):
        if value:
            parts.append(f"{label}={value}")
    return "; ".join(p for p in parts if p)


def is_sensitive(exc: BaseException) -> bool:
    """Exceptions whose message may quote user data."""
    return isinstance(
        exc, psycopg.Error | sa_exc.StatementError | sa_exc.DBAPIError | pydantic.ValidationError
    )


def safe_message(exc: BaseException) -> str:
    """The exception's text, or a rendering of it without values when it may carry some."""
    if isinstance(exc, psycopg.Error):
        return _psycopg_text(exc)
    if isinstance(exc, sa_exc.StatementError):
        original = exc.orig
        detail = _psycopg_text(original) if isinstance(original, psycopg.Error) else WITHHELD
        statement = " ".join((exc.statement or "").split())[:_STATEMENT_CHARS]
        return f"{detail} [SQL: {statement}]"
    if isinstance(exc, pydantic.ValidationError):
        fields = [
            f"{'.'.join(str(p) for p in err['loc'])}: {err['type']}"
            for err in exc.errors(include_input=False, include_url=False)
        ]
        return f"{exc.title}: " + "; ".join(fields)
    if isinstance(exc, sa_exc.SQLAlchemyError):
        return _PARAMETERS.sub("[parameters withheld]", str(exc))
    return str(exc)


def safe_traceback(exc: BaseException) -> str:
    """Like traceback.format_exception, with every message passed through safe_message."""
    blocks: list[str] = []
    for index, item in enumerate(_chain(exc)):
        lines = ["Traceback (most recent call last):\n"]
        lines += traceback.format_tb(item.__traceback__)
        lines.append(f"{type(item).__module__}.{type(item).__qualname__}: {safe_message(item)}\n")
        if index:
            lines.append(
                "\nThe above exception was the direct cause of the following exception:\n\n"
            )
        blocks.insert(0, "".join(lines))
    return "".join(blocks).rstrip("\n")


def needs_scrubbing(exc: BaseException) -> bool:
    return any(is_sensitive(item) for item in _chain(exc))


def sentry_before_send(event: dict[str, Any], hint: dict[str, Any]) -> dict[str, Any] | None:
    """Strip request data, values of sensitive exceptions and SQL breadcrumbs' data."""
    event.pop("request", None)
    event.pop("user", None)
    exc_info = hint.get("exc_info")
    chain = list(_chain(exc_info[1])) if exc_info and exc_info[1] is not None else []
    by_type = {type(item).__name__: item for item in chain}
    for value in (event.get("exception") or {}).get("values") or []:
        module = str(value.get("module") or "")
        original = by_type.get(str(value.get("type")))
        if original is not None and is_sensitive(original):
            value["value"] = safe_message(original)
        elif module.split(".")[0] in ("psycopg", "sqlalchemy", "pydantic", "pydantic_core"):
            value["value"] = WITHHELD
    for crumb in (event.get("breadcrumbs") or {}).get("values") or []:
        _scrub_breadcrumb(crumb)
    return event


def _scrub_breadcrumb(crumb: dict[str, Any]) -> None:
    # SQL breadcrumbs carry parameters; HTTP ones carry URLs with query strings (tokens).
    if crumb.get("category") in ("query", "sqlalchemy", "httplib") or crumb.get("type") == "query":
        crumb.pop("data", None)


def sentry_before_breadcrumb(crumb: dict[str, Any], _hint: dict[str, Any]) -> dict[str, Any]:
    _scrub_breadcrumb(crumb)
    return crumb
