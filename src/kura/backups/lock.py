"""One backup or restore at a time, across every instance.

The advisory lock lives on a connection to the server's `postgres` maintenance database, so it
does not depend on (and is not killed with) the database being restored.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import psycopg
from sqlalchemy.engine import URL

from kura.db.urls import libpq_conninfo
from kura.errors import Conflict

LOCK_KEY = 0x4B555241_4241434B  # "KURABACK"
MAINTENANCE_DB = "postgres"


def control_url(url: URL) -> URL:
    return url.set(database=MAINTENANCE_DB)


@asynccontextmanager
async def operation_lock(
    url: URL, *, wait_seconds: float = 0.0
) -> AsyncIterator[psycopg.AsyncConnection | None]:
    """Yield an autocommit control connection holding the lock, or None if someone has it
    (still, after `wait_seconds`)."""
    conn = await psycopg.AsyncConnection.connect(
        libpq_conninfo(control_url(url)),
        autocommit=True,
        application_name="kura-backup-lock",
        connect_timeout=10,
    )
    try:
        deadline = time.monotonic() + wait_seconds
        while not await _try_lock(conn):
            if time.monotonic() >= deadline:
                yield None
                return
            await asyncio.sleep(0.25)
        try:
            yield conn
        finally:
            if not conn.closed:
                await conn.execute("SELECT pg_advisory_unlock(%s)", (LOCK_KEY,))
    finally:
        await conn.close()


async def _try_lock(conn: psycopg.AsyncConnection) -> bool:
    row = await (await conn.execute("SELECT pg_try_advisory_lock(%s)", (LOCK_KEY,))).fetchone()
    return bool(row and row[0])


@asynccontextmanager
async def exclusive_operation(url: URL) -> AsyncIterator[psycopg.AsyncConnection]:
    """Yield an autocommit control connection holding the lock; 409 if someone else has it."""
    async with operation_lock(url) as conn:
        if conn is None:
            raise Conflict("A backup or restore is already running. Try again when it finishes.")
        yield conn
