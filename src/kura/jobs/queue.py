"""The job queue app, its connection pool, and deferring inside a request's transaction."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import procrastinate
from sqlalchemy.engine import URL

from kura.db.urls import libpq_conninfo
from kura.jobs import maintenance

# The one queue. The core's own tasks register here; each domain's are added by kura.registry
# (the wiring), so this module imports no domain. Nothing connects until job_queue() is used.
job_app = procrastinate.App(connector=procrastinate.PsycopgConnector())
job_app.add_tasks_from(maintenance.blueprint, namespace="maintenance")


@asynccontextmanager
async def job_queue(url: URL, *, max_size: int = 4) -> AsyncIterator[procrastinate.App]:
    """Connect the queue with its own pool (the worker LISTENs outside request transactions)."""
    connector = procrastinate.PsycopgConnector(
        conninfo=libpq_conninfo(url),
        min_size=1,
        max_size=max_size,
        kwargs={"application_name": "kura-jobs"},
    )
    with job_app.replace_connector(connector):
        await job_app.open_async()
        try:
            yield job_app
        finally:
            await job_app.close_async()
