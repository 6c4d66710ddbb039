"""Running a worker: inside the API process by default, or standalone (`kura worker`)."""

from __future__ import annotations

import procrastinate

from kura.db.engine import Database

WORKER_CONCURRENCY = 2


async def run_worker(
    app: procrastinate.App, database: Database, *, install_signal_handlers: bool
) -> None:
    """Process jobs until cancelled (or signalled); tasks get the Database in their context."""
    await app.run_worker_async(
        concurrency=WORKER_CONCURRENCY,
        install_signal_handlers=install_signal_handlers,
        additional_context={"database": database},
        shutdown_graceful_timeout=10,
        wait=True,
    )
