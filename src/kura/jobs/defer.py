"""Deferring a job inside the caller's database transaction."""

from __future__ import annotations

from typing import Any

import procrastinate
from sqlalchemy.ext.asyncio import AsyncSession


async def defer_in_transaction(
    session: AsyncSession,
    task: procrastinate.tasks.Task[Any, Any, Any],
    *,
    options: dict[str, Any] | None = None,
    **kwargs: Any,
) -> int | None:
    """Enqueue `task` on the session's own connection: it exists only if the session commits.

    With a `queueing_lock` option, a job already waiting under that lock makes this a no-op
    (None) — a savepoint keeps the refused insert from aborting the caller's transaction.
    """
    # Importing the queue module binds every domain's blueprint to the job app; a task
    # deferred before that (a server started with --no-worker) would be "unbound".
    from kura.jobs import queue  # noqa: F401 - imported for its effect (binding tasks)

    configured = dict(options or {})
    try:
        # The savepoint is rolled back if the insert is refused, keeping the caller's
        # transaction usable.
        async with session.begin_nested():
            connection = await session.connection()
            raw = await connection.get_raw_connection()
            job_id: int = await task.configure(
                connection=raw.driver_connection, **configured
            ).defer_async(**kwargs)
    except procrastinate.exceptions.AlreadyEnqueued:
        return None
    return job_id
