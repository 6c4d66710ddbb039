"""Running a worker: inside the API process by default, or standalone (`kura worker`)."""

from __future__ import annotations

import asyncio
import time

import procrastinate
from sqlalchemy.exc import DBAPIError

from kura.config import Settings
from kura.db.engine import Database
from kura.db.migrate import missing_migrations
from kura.jobs.schedule import register_schedules
from kura.logging import get_logger

WORKER_CONCURRENCY = 2
RESTART_DELAY_SECONDS = 30.0
FIRST_RESTART_DELAY_SECONDS = 1.0
HEALTHY_RUN_SECONDS = 60.0  # a worker that ran this long had recovered: back to a short delay
SCHEMA_POLL_SECONDS = 15.0
log = get_logger(__name__)


def job_context(database: Database, settings: Settings) -> dict[str, object]:
    """What every task finds in `context.additional_context`."""
    return {"database": database, "settings": settings}


async def run_worker(
    app: procrastinate.App,
    database: Database,
    settings: Settings,
) -> None:
    """Process jobs until cancelled (signals are the caller's: see run_worker_supervised)."""
    register_schedules(app, settings)
    await app.run_worker_async(
        concurrency=WORKER_CONCURRENCY,
        install_signal_handlers=False,
        additional_context=job_context(database, settings),
        shutdown_graceful_timeout=10,
        wait=True,
    )


async def wait_for_schema(database: Database, *, poll_seconds: float = SCHEMA_POLL_SECONDS) -> None:
    """Return once the database has every migration this code has. A revision staged with no
    traffic starts before the migration job has run: its worker must not run jobs written for a
    schema the database does not have yet (the old revision's worker keeps them going)."""
    waiting = False
    while (missing := await missing_migrations(database.engine)) is not None:
        if not waiting:
            database_revisions, code_heads = missing
            log.warning(
                "jobs.worker_waiting_for_migrations",
                database=sorted(database_revisions),
                code=sorted(code_heads),
            )
            waiting = True
        await asyncio.sleep(poll_seconds)
    if waiting:
        log.info("jobs.worker_schema_ready")


async def run_worker_supervised(
    app: procrastinate.App,
    database: Database,
    settings: Settings,
    *,
    restart_delay: float = RESTART_DELAY_SECONDS,
    first_delay: float = FIRST_RESTART_DELAY_SECONDS,
    schema_poll_seconds: float = SCHEMA_POLL_SECONDS,
) -> None:
    """The in-process worker: a failure (database down, schema not migrated yet) must not take
    the API down with it. Only cancellation (the server stopping) ends it: procrastinate also
    *returns* when its listener loses the database (an outage, a restore's rename), and such a
    worker is restarted too — after 1 s, doubling up to `restart_delay` while failures repeat.
    Each start first waits for the database to have this code's migrations."""
    delay = first_delay
    while True:
        started = time.monotonic()
        try:
            await wait_for_schema(database, poll_seconds=schema_poll_seconds)
            await run_worker(app, database, settings)
            failure: dict[str, str] = {"reason": "stopped"}
        except (procrastinate.exceptions.ConnectorException, DBAPIError) as exc:
            cause = exc.__cause__ or exc
            detail = str(cause).strip().splitlines()[0] if str(cause).strip() else ""
            failure = {"reason": "database", "error": type(cause).__name__, "detail": detail}
        except Exception:
            log.exception("jobs.worker_crashed")
            failure = {"reason": "crashed"}
        if time.monotonic() - started > HEALTHY_RUN_SECONDS:
            delay = first_delay  # it had been working: this is a new incident
        log.error("jobs.worker_restarting", restart_in_seconds=delay, **failure)
        await asyncio.sleep(delay)
        delay = min(delay * 2, restart_delay)
