"""The job queue: enqueued with the request's transaction, run by workers, periodic once."""

from __future__ import annotations

import asyncio
import contextlib

import procrastinate
from fastapi import APIRouter, FastAPI
from httpx import AsyncClient
from sqlalchemy import text
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from kura.config import Settings
from kura.db.engine import Database
from kura.db.session import DbSession
from kura.db.urls import libpq_conninfo
from kura.errors import Conflict
from kura.jobs.defer import defer_in_transaction
from kura.jobs.maintenance import prune_finished_jobs
from kura.jobs.queue import job_app, job_queue
from kura.jobs.worker import job_context

enqueue = APIRouter(prefix="/probe")


@enqueue.post("/enqueue")
async def enqueue_and_succeed(session: DbSession) -> dict[str, int | None]:
    return {"job_id": await defer_in_transaction(session, prune_finished_jobs, timestamp=1)}


@enqueue.post("/enqueue-then-fail")
async def enqueue_then_fail(session: DbSession) -> None:
    await defer_in_transaction(session, prune_finished_jobs, timestamp=2)
    raise Conflict("changed my mind")


async def _jobs(connection: AsyncConnection, timestamp: int) -> int:
    result = await connection.execute(
        text("SELECT count(*) FROM procrastinate_jobs WHERE (args->>'timestamp')::int = :ts"),
        {"ts": timestamp},
    )
    return int(result.scalar_one())


async def test_a_committed_request_enqueues_its_job(
    app: FastAPI, client: AsyncClient, connection: AsyncConnection
) -> None:
    app.include_router(enqueue)
    response = await client.post("/probe/enqueue")
    assert response.status_code == 200
    assert await _jobs(connection, 1) == 1


async def test_a_rolled_back_request_enqueues_nothing(
    app: FastAPI, client: AsyncClient, connection: AsyncConnection
) -> None:
    app.include_router(enqueue)
    response = await client.post("/probe/enqueue-then-fail")
    assert response.status_code == 409
    assert await _jobs(connection, 2) == 0


async def test_a_worker_runs_a_deferred_job(
    db_url: URL, engine: AsyncEngine, settings: Settings
) -> None:
    database = Database.connect(db_url)
    async with job_queue(db_url) as queue:
        # The periodic decorator hides `timestamp` from the type; it is the tick's argument.
        job_id = await prune_finished_jobs.defer_async(**{"timestamp": 3})
        await queue.run_worker_async(
            wait=False,
            install_signal_handlers=False,
            additional_context=job_context(database, settings),
            listen_notify=False,
        )
    await database.dispose()
    async with engine.begin() as conn:
        status = (
            await conn.execute(
                text("SELECT status FROM procrastinate_jobs WHERE id = :id"), {"id": job_id}
            )
        ).scalar_one()
        await conn.execute(text("DELETE FROM procrastinate_jobs WHERE id = :id"), {"id": job_id})
    assert status == "succeeded"


async def test_two_workers_never_run_the_same_periodic_tick_twice(
    db_url: URL, engine: AsyncEngine
) -> None:
    app = procrastinate.App(
        connector=procrastinate.PsycopgConnector(conninfo=libpq_conninfo(db_url))
    )

    @app.periodic(cron="* * * * * *")  # every second
    @app.task(name="test_tick", queue="test_tick")
    async def tick(timestamp: int) -> None:
        return None

    async with app.open_async():
        workers = [
            asyncio.create_task(
                app.run_worker_async(
                    name=f"w{i}", queues=["test_tick"], install_signal_handlers=False
                )
            )
            for i in range(2)
        ]
        await asyncio.sleep(3.5)
        for worker in workers:
            worker.cancel()
        for worker in workers:
            with contextlib.suppress(asyncio.CancelledError):
                await worker
    async with engine.begin() as conn:
        rows = (
            await conn.execute(
                text(
                    "SELECT (args->>'timestamp')::bigint AS ts, count(*) AS n "
                    "FROM procrastinate_jobs WHERE task_name = 'test_tick' GROUP BY 1"
                )
            )
        ).all()
        await conn.execute(text("DELETE FROM procrastinate_jobs WHERE task_name = 'test_tick'"))
        await conn.execute(
            text("DELETE FROM procrastinate_periodic_defers WHERE task_name = 'test_tick'")
        )
    assert len(rows) >= 2, "the schedule did not tick"
    assert all(n == 1 for _, n in rows), rows


def test_in_process_and_standalone_workers_share_one_registry() -> None:
    assert "maintenance:prune_finished_jobs" in job_app.tasks
    periodic = [p.task.name for p in job_app.periodic_registry.periodic_tasks.values()]
    assert "maintenance:prune_finished_jobs" in periodic


async def test_the_in_process_worker_survives_a_database_without_the_queue_schema(
    empty_db: URL, settings: Settings
) -> None:
    from kura.jobs.worker import run_worker_supervised

    database = Database.connect(empty_db)
    async with job_queue(empty_db) as queue:
        supervisor = asyncio.create_task(
            run_worker_supervised(queue, database, settings, restart_delay=0.1, first_delay=0.05)
        )
        await asyncio.sleep(0.5)
        assert not supervisor.done(), "the supervisor gave up instead of retrying"
        supervisor.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await supervisor
    await database.dispose()


async def test_a_worker_waits_until_the_database_has_its_migrations(
    db_url: URL, template_db: str
) -> None:
    """A revision staged without traffic starts before its migration job ran: its worker
    holds off until the schema matches, then starts; a database ahead of the code (the old
    revision after the new one's migration) is not waited for."""
    from alembic import command

    from kura.db.migrate import alembic_config, upgrade_heads
    from kura.jobs.worker import wait_for_schema
    from tests.backup_support import create_from_template, drop

    url = create_from_template(db_url, "kura_behind", template_db)
    database = Database.connect(url)
    try:
        await asyncio.to_thread(command.downgrade, alembic_config(url), "-1")
        waiter = asyncio.create_task(wait_for_schema(database, poll_seconds=0.05))
        await asyncio.sleep(0.5)
        assert not waiter.done(), "the worker started on a schema older than its code"
        await asyncio.to_thread(upgrade_heads, url)
        await asyncio.wait_for(waiter, timeout=10)

        async with database.engine.begin() as conn:
            await conn.execute(text("UPDATE alembic_version SET version_num = 'ffffffffffff'"))
        await asyncio.wait_for(wait_for_schema(database, poll_seconds=0.05), timeout=5)
    finally:
        await database.dispose()
        drop(url)
