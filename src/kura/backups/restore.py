"""Restoring, all or nothing: the dump is loaded into a scratch database and verified against
its manifest; only then is it swapped in (see `swap`). Any failure before the swap leaves the
live database exactly as it was."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import re
import zlib
from collections.abc import Callable
from typing import BinaryIO

import psycopg
from psycopg import sql
from sqlalchemy.engine import URL

from kura.backups import progress
from kura.backups.dump import DUMP_FOOTER, READ_CHUNK
from kura.backups.manifest import Manifest
from kura.backups.pgtools import clean_env, conninfo_without_password, supervised, tool
from kura.backups.swap import RestoreIntent, drop_database, set_comment
from kura.config import Settings
from kura.db.copies import scratch_name
from kura.db.urls import libpq_conninfo
from kura.errors import KuraError
from kura.logging import get_logger

log = get_logger(__name__)
# Settings newer pg_dump versions emit that older servers reject (PostgreSQL 17+ only).
_NEWER_SETTINGS = re.compile(rb"^SET transaction_timeout = [^\n]*\n", re.MULTILINE)


class BackupCorrupt(Exception):
    """The file does not match its manifest or is not a complete gzip'd dump."""


class RestoreFailed(KuraError):
    """The dump could not be applied or verified; the live database was not touched."""

    status_code = 500
    code = "restore_failed"

    def __init__(self, reason: str) -> None:
        super().__init__(
            f"The restore failed ({reason}); the live database was not changed. "
            "Details are in the server log."
        )


Opener = Callable[[], BinaryIO]  # a blocking reader of the backup file (store.open_read)


def verify_file(open_file: Opener, manifest: Manifest) -> None:
    """sha256 and size match the signed manifest; the gzip stream is whole and complete.
    Blocking: run it in a thread. The file is streamed, never copied."""
    digest = hashlib.sha256()
    decompressor = zlib.decompressobj(31)
    size = 0
    tail = b""
    try:
        with contextlib.closing(open_file()) as handle:
            while chunk := handle.read(READ_CHUNK):
                size += len(chunk)
                digest.update(chunk)
                tail = (tail + decompressor.decompress(chunk))[-512:]
                progress.advance(len(chunk))
        tail = (tail + decompressor.flush())[-512:]
    except zlib.error:
        raise BackupCorrupt("the gzip stream is damaged") from None
    if size != manifest.size_bytes or digest.hexdigest() != manifest.sha256:
        raise BackupCorrupt("the file does not match its manifest (size or sha256)")
    if not decompressor.eof or DUMP_FOOTER not in tail:
        raise BackupCorrupt("the dump inside the file is incomplete")


async def _server_major(conn: psycopg.AsyncConnection) -> int:
    row = await (await conn.execute("SHOW server_version_num")).fetchone()
    return int(row[0]) // 10000 if row else 0


async def load_into_scratch(
    settings: Settings,
    live: URL,
    control: psycopg.AsyncConnection,
    open_file: Opener,
    manifest: Manifest,
    intent: RestoreIntent,
) -> str:
    """Create a scratch database (carrying the restore's intent), apply the dump in one
    transaction, verify it. Returns its name; on any failure the scratch database is dropped
    and RestoreFailed raised."""
    scratch = scratch_name(str(live.database))
    await control.execute(
        sql.SQL("CREATE DATABASE {} TEMPLATE template0").format(sql.Identifier(scratch))
    )
    try:
        await set_comment(control, scratch, intent.encode())
        await _apply(
            settings, live.set(database=scratch), open_file, manifest, await _server_major(control)
        )
        await _verify_scratch(live.set(database=scratch), manifest)
    except BaseException:
        await drop_database(control, scratch)
        raise
    return scratch


async def _apply(
    settings: Settings, target: URL, open_file: Opener, manifest: Manifest, server_major: int
) -> None:
    psql = tool(settings, "psql")
    process = await asyncio.create_subprocess_exec(
        psql,
        "-X",
        "-q",
        "-v",
        "ON_ERROR_STOP=1",
        "--single-transaction",
        "-f",
        "-",
        f"--dbname={conninfo_without_password(target)}",
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
        env=clean_env(target),
    )
    assert process.stdin is not None and process.stderr is not None
    stderr_task = asyncio.create_task(process.stderr.read())
    try:
        # On any error (a changed file included) psql is killed before its transaction commits.
        async with supervised(process, stderr_task, settings.backup_timeout_seconds):
            # psql stopping on an error closes the pipe; its exit status says why, below.
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                await _feed(process.stdin, open_file, manifest, server_major)
            code = await process.wait()
    except TimeoutError:
        raise RestoreFailed(
            f"loading the dump took longer than BACKUP_TIMEOUT_SECONDS "
            f"({settings.backup_timeout_seconds} s)"
        ) from None
    except OSError as exc:
        raise RestoreFailed(f"reading the backup file failed ({exc.strerror})") from None
    stderr = (await stderr_task).decode(errors="replace").strip()
    if code != 0:
        log.error("restore.psql_failed", status=code, stderr=stderr[-2000:])
        raise RestoreFailed(f"psql stopped applying the dump with status {code}")
    if stderr:
        log.warning("restore.psql_stderr", stderr=stderr[-2000:])


async def _feed(
    stdin: asyncio.StreamWriter, open_file: Opener, manifest: Manifest, server_major: int
) -> None:
    """Stream the file into psql, hashing it again: psql's single transaction commits only
    when stdin closes, so a file that changed since it was verified is never committed."""
    decompressor = zlib.decompressobj(31)
    digest = hashlib.sha256()
    size = 0
    header = True
    handle = await asyncio.to_thread(open_file)
    try:
        while chunk := await asyncio.to_thread(handle.read, READ_CHUNK):
            size += len(chunk)
            digest.update(chunk)
            progress.advance(len(chunk))
            data = await asyncio.to_thread(decompressor.decompress, chunk)
            if header and server_major < 17:
                data = _NEWER_SETTINGS.sub(b"", data)
            header = False
            stdin.write(data)
            await stdin.drain()
    finally:
        await asyncio.to_thread(handle.close)
    if size != manifest.size_bytes or digest.hexdigest() != manifest.sha256:
        raise RestoreFailed("the backup file changed after it was verified")
    stdin.write(decompressor.flush())
    await stdin.drain()
    stdin.close()


async def _verify_scratch(target: URL, manifest: Manifest) -> None:
    async with await psycopg.AsyncConnection.connect(
        libpq_conninfo(target), autocommit=True
    ) as conn:
        for qualified, expected in manifest.tables.items():
            schema, table = qualified.split(".", 1)
            query = sql.SQL("SELECT count(*) FROM {}.{}").format(
                sql.Identifier(schema), sql.Identifier(table)
            )
            try:
                row = await (await conn.execute(query)).fetchone()
            except psycopg.errors.UndefinedTable:
                raise RestoreFailed(f"table {qualified} is missing after the restore") from None
            if not row or int(row[0]) != expected:
                raise RestoreFailed(f"table {qualified} has a different row count than the backup")
        if manifest.schema_revision is not None:
            row = await (await conn.execute("SELECT version_num FROM alembic_version")).fetchone()
            if not row or row[0] != manifest.schema_revision:
                raise RestoreFailed("the migration revision differs from the backup's")
