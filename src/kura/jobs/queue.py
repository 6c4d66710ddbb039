"""The job queue app, its connection pool, and deferring inside a request's transaction."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import procrastinate
from sqlalchemy.engine import URL

from kura.auth import tasks as auth_tasks
from kura.backups import tasks as backup_tasks
from kura.briefings import tasks as briefing_tasks
from kura.db.urls import libpq_conninfo
from kura.jobs import maintenance
from kura.monitoring import tasks as monitoring_tasks
from kura.payments import tasks as payment_tasks

# Tasks register here at import; nothing connects until open_queue() is called.
job_app = procrastinate.App(connector=procrastinate.PsycopgConnector())
job_app.add_tasks_from(maintenance.blueprint, namespace="maintenance")
job_app.add_tasks_from(auth_tasks.blueprint, namespace="auth")
job_app.add_tasks_from(backup_tasks.blueprint, namespace="backups")
job_app.add_tasks_from(monitoring_tasks.blueprint, namespace="monitoring")
job_app.add_tasks_from(briefing_tasks.blueprint, namespace="briefings")
job_app.add_tasks_from(payment_tasks.blueprint, namespace="payments")


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
