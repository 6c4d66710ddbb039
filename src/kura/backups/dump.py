"""Taking a dump: pg_dump (plain SQL) on an exported snapshot, compressed, hashed and checked
in one streaming pass. Row counts come from the same snapshot, so they describe the dump."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import hashlib
import os
import threading
import zlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import BinaryIO

import psycopg
from psycopg import sql
from sqlalchemy.engine import URL

from kura.backups import progress
from kura.backups.pgtools import (
    clean_env,
    conninfo_without_password,
    supervised,
    tool,
    tool_version,
)
from kura.config import Settings
from kura.db.urls import libpq_conninfo
from kura.logging import get_logger

READ_CHUNK = 256 * 1024
# Backups yield the CPU to request handling: compression runs in one background thread and
# pg_dump as a background process — Linux SCHED_IDLE (they run only when nothing else wants
# the CPU, and a request preempts them at once), else a raised nice value.
BACKGROUND_NICENESS = 10


def _to_background(tid: int) -> None:
    try:
        os.sched_setscheduler(tid, os.SCHED_IDLE, os.sched_param(0))
    except (OSError, AttributeError):
        with contextlib.suppress(OSError, AttributeError):
            os.setpriority(os.PRIO_PROCESS, tid, BACKGROUND_NICENESS)


_compression_pool = ThreadPoolExecutor(
    max_workers=1,
    thread_name_prefix="kura-backup",
    initializer=lambda: _to_background(threading.get_native_id()),
)


def _lower_process_priority() -> None:
    _to_background(0)


DUMP_FOOTER = b"-- PostgreSQL database dump complete"
log = get_logger(__name__)


class DumpFailed(Exception):
    """pg_dump failed or produced an incomplete dump; details are in the log, not here."""


@dataclass(frozen=True)
class DumpResult:
    size_bytes: int
    sha256: str
    tables: dict[str, int]
    schema_revision: str | None
    server_version: str
    pg_dump_version: str


async def _snapshot_facts(conn: psycopg.AsyncConnection) -> tuple[dict[str, int], str | None, str]:
    tables = await (
        await conn.execute(
            "SELECT schemaname, tablename FROM pg_tables "
            "WHERE schemaname NOT IN ('pg_catalog', 'information_schema') ORDER BY 1, 2"
        )
    ).fetchall()
    counts: dict[str, int] = {}
    for schema, table in tables:
        query = sql.SQL("SELECT count(*) FROM {}.{}").format(
            sql.Identifier(schema), sql.Identifier(table)
        )
        row = await (await conn.execute(query)).fetchone()
        counts[f"{schema}.{table}"] = int(row[0]) if row else 0
    revision = None
    if "public.alembic_version" in counts:
        row = await (await conn.execute("SELECT version_num FROM alembic_version")).fetchone()
        revision = row[0] if row else None
    version_row = await (await conn.execute("SHOW server_version")).fetchone()
    return counts, revision, str(version_row[0]) if version_row else "unknown"


async def dump_database(settings: Settings, url: URL, sink: BinaryIO, *, level: int) -> DumpResult:
    """Write a gzip'd plain dump of `url` to `sink` (a blob upload: nothing is staged
    locally); DumpFailed unless complete."""
    pg_dump = tool(settings, "pg_dump")
    async with await psycopg.AsyncConnection.connect(libpq_conninfo(url)) as snapshot_conn:
        await snapshot_conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        row = await (await snapshot_conn.execute("SELECT pg_export_snapshot()")).fetchone()
        assert row is not None
        snapshot = str(row[0])
        tables, revision, server_version = await _snapshot_facts(snapshot_conn)
        process = await asyncio.create_subprocess_exec(
            pg_dump,
            "--no-owner",
            "--no-acl",
            "--format=plain",
            f"--snapshot={snapshot}",
            f"--dbname={conninfo_without_password(url)}",
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            stdin=asyncio.subprocess.DEVNULL,
            env=clean_env(url),
            preexec_fn=_lower_process_priority,  # only os.nice: async-signal-safe
        )
        assert process.stdout is not None and process.stderr is not None
        stderr_task = asyncio.create_task(process.stderr.read())
        try:
            # On an error pg_dump is blocked on a pipe nobody reads: `supervised` stops it
            # first, so the lock and the snapshot are released now, not never.
            async with supervised(process, stderr_task, settings.backup_timeout_seconds):
                size, digest, tail = await _compress_stream(process.stdout, sink, level)
        except TimeoutError:
            raise DumpFailed(
                f"the dump took longer than BACKUP_TIMEOUT_SECONDS "
                f"({settings.backup_timeout_seconds} s)"
            ) from None
        except OSError as exc:
            raise DumpFailed(_storage_error(exc)) from None
        code = await process.wait()
        stderr = (await stderr_task).decode(errors="replace").strip()
        await snapshot_conn.execute("ROLLBACK")
    if stderr:
        log.warning("backup.pg_dump_stderr", stderr=stderr[-2000:])
    if code != 0:
        raise DumpFailed(f"pg_dump exited with status {code}")
    if DUMP_FOOTER not in tail:
        raise DumpFailed("the dump is incomplete (no completion footer)")
    return DumpResult(
        size_bytes=size,
        sha256=digest,
        tables=tables,
        schema_revision=revision,
        server_version=server_version,
        pg_dump_version=await tool_version(pg_dump),
    )


def _storage_error(exc: OSError) -> str:
    if exc.errno == errno.ENOSPC:
        return "the backup storage is full (No space left on device)"
    return f"writing the dump failed ({exc.strerror or type(exc).__name__})"


async def _compress_stream(
    source: asyncio.StreamReader, sink: BinaryIO, level: int
) -> tuple[int, str, bytes]:
    """gzip `source` into `sink`; returns size, sha256, last raw bytes."""
    compressor = zlib.compressobj(level, zlib.DEFLATED, 31)  # 31: gzip container
    digest = hashlib.sha256()
    loop = asyncio.get_running_loop()
    tail = b""
    size = 0

    def absorb(chunk: bytes | None) -> int:
        # Runs in the backup thread: compress, hash and write (to disk or to the network).
        data = compressor.compress(chunk) if chunk is not None else compressor.flush()
        digest.update(data)
        sink.write(data)
        return len(data)

    while chunk := await source.read(READ_CHUNK):
        tail = (tail + chunk)[-512:]
        written = await loop.run_in_executor(_compression_pool, absorb, chunk)
        size += written
        progress.advance(written)  # here, not in absorb: executors do not carry the context
    written = await loop.run_in_executor(_compression_pool, absorb, None)
    size += written
    progress.advance(written)
    return size, digest.hexdigest(), tail
