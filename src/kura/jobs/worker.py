"""Running a worker: inside the API process by default, or standalone (`kura worker`)."""

from __future__ import annotations

import asyncio

import procrastinate

from kura.config import Settings
from kura.db.engine import Database
from kura.jobs.schedule import register_schedules
from kura.logging import get_logger

WORKER_CONCURRENCY = 2
RESTART_DELAY_SECONDS = 30.0
log = get_logger(__name__)


def job_context(database: Database, settings: Settings) -> dict[str, object]:
    """What every task finds in `context.additional_context`."""
    return {"database": database, "settings": settings}


async def run_worker(
    app: procrastinate.App,
    database: Database,
    settings: Settings,
    *,
    install_signal_handlers: bool,
) -> None:
    """Process jobs until cancelled (or signalled)."""
    register_schedules(app, settings)
    await app.run_worker_async(
        concurrency=WORKER_CONCURRENCY,
        install_signal_handlers=install_signal_handlers,
        additional_context=job_context(database, settings),
        shutdown_graceful_timeout=10,
        wait=True,
    )


async def run_worker_supervised(
    app: procrastinate.App,
    database: Database,
    settings: Settings,
    *,
    restart_delay: float = RESTART_DELAY_SECONDS,
) -> None:
    """The in-process worker: a failure (database down, schema not migrated yet) must not take
    the API down with it; the worker restarts after a delay until the server stops."""
    while True:
        try:
            await run_worker(app, database, settings, install_signal_handlers=False)
            return
        except procrastinate.exceptions.ConnectorException as exc:
            cause = exc.__cause__ or exc
            log.error(
                "jobs.worker_failed",
                error=type(cause).__name__,
                detail=str(cause).strip().splitlines()[0] if str(cause).strip() else "",
                restart_in_seconds=restart_delay,
            )
        except Exception:
            log.exception("jobs.worker_crashed", restart_in_seconds=restart_delay)
        await asyncio.sleep(restart_delay)
