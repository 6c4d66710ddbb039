"""Shared pieces of the `kura` commands: consoles, clean one-line failures, settings."""

from __future__ import annotations

import socket
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import NoReturn, TypeVar

import typer
from rich.console import Console
from sqlalchemy.engine import URL

from kura.config import Settings, load_settings
from kura.errors import ConfigError, KuraError, StartupError

out = Console()
err = Console(stderr=True, soft_wrap=True)
T = TypeVar("T")


@contextmanager
def clean_failures() -> Iterator[None]:
    """Turn the failures a user can fix into one line and exit code 2 — never a traceback."""
    from psycopg import OperationalError as PsycopgOperationalError
    from sqlalchemy.exc import OperationalError

    try:
        yield
    except (ConfigError, StartupError) as exc:
        _report(exc)
        err.print(f"[bold red]error:[/] {exc}", highlight=False)
        raise typer.Exit(2) from None
    except KuraError as exc:
        _report(exc)
        err.print(f"[bold red]error:[/] {exc.detail}", highlight=False)
        raise typer.Exit(2) from None
    except (OperationalError, PsycopgOperationalError) as exc:
        _report(exc)
        cause = str(getattr(exc, "orig", exc) or exc).strip().splitlines()[0]
        err.print(f"[bold red]error:[/] database error: {cause}", highlight=False)
        raise typer.Exit(2) from None


def usage_error(message: str) -> NoReturn:
    """A bad command line: one `error:` line, exit 2."""
    err.print(f"[bold red]error:[/] {message}", highlight=False)
    raise typer.Exit(2)


def _report(exc: BaseException) -> None:
    """A failed migration job or worker reaches Sentry even when it ends in one clean line
    (a no-op for commands that did not start Sentry)."""
    import sentry_sdk

    if sentry_sdk.get_client().is_active():
        sentry_sdk.capture_exception(exc)
        sentry_sdk.flush(timeout=5)


def cli_settings(*, sentry: bool = False, quiet: bool = False) -> Settings:
    """Settings for a command. Its logs go to stderr (stdout is the command's output: tables,
    JSON); `sentry` starts error reporting (the migration job and the worker); `quiet` keeps
    only warnings and errors (a command whose own output says what happened)."""
    from kura.logging import configure_logging, configure_sentry

    settings = load_settings()
    if quiet and settings.log_level in ("DEBUG", "INFO"):
        settings = settings.model_copy(update={"log_level": "WARNING"})
    configure_logging(settings, stream=sys.stderr)
    if sentry:
        configure_sentry(settings)
    return settings


def check_port_free(host: str, port: int) -> None:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise StartupError(
                f"Cannot listen on {host}:{port} ({exc.strerror}). Stop the process using it "
                "or choose another port with --port or PORT."
            ) from None


def check_reachable(url: URL) -> None:
    """One `error:` line with libpq's own reason (it never contains the password) and a hint."""
    import psycopg

    from kura.db.urls import libpq_conninfo, where

    try:
        with psycopg.connect(libpq_conninfo(url), connect_timeout=5) as conn:
            conn.execute("SELECT 1")
    except psycopg.OperationalError as exc:
        reason = libpq_reason(exc)
        raise StartupError(
            f"Cannot connect to the database at {where(url)}: {reason}. {_hint(reason)}"
        ) from None


def libpq_reason(exc: Exception) -> str:
    """The server's FATAL line when there is one, else libpq's first line."""
    text = " ".join(str(exc).split())
    marker = text.rfind("FATAL:")
    return (text[marker + len("FATAL:") :] if marker >= 0 else text).strip() or "no reason given"


def _hint(reason: str) -> str:
    if "not currently accepting connections" in reason:
        return (
            "Its connections are switched off, as an interrupted restore leaves them; kura "
            "switches them back on at start when no backup or restore is running. "
            "See docs/backups.md."
        )
    if reason.startswith("database") and "does not exist" in reason:
        return (
            "Create the database (scripts/setup_infra.sh does on Cloud SQL); if a restore was "
            "interrupted, see docs/backups.md."
        )
    if "password authentication failed" in reason or (
        reason.startswith("role") and "does not exist" in reason
    ):
        return "Check the user in DATABASE_URL and DB_PASSWORD (or re-run scripts/setup_infra.sh)."
    return "Check DATABASE_URL and that the server (or the Cloud SQL proxy) is running."


def open_database(url: URL, settings: Settings) -> None:
    """Before any command uses the database: repair an interrupted restore, sweep, check."""
    from kura.backups.recovery import prepare_database_sync

    prepare_database_sync(url, settings)
    check_reachable(url)


def exit_on_sigterm(signum: int, _frame: object) -> None:
    # uvicorn re-raises the signal it caught after its graceful shutdown; raising SystemExit
    # (instead of dying) lets the embedded database be released by our `finally` blocks.
    raise SystemExit(128 + signum)


def run_cli(func: Callable[[], T]) -> T:
    with clean_failures():
        return func()
