"""Restoring, all or nothing: the dump is loaded into a scratch database, verified against its
manifest, and only then swapped in by renaming. Any failure before the swap leaves the live
database exactly as it was."""

from __future__ import annotations

import asyncio
import hashlib
import re
import zlib
from datetime import UTC, datetime
from pathlib import Path

import psycopg
from psycopg import sql
from sqlalchemy.engine import URL

from kura.backups.dump import DUMP_FOOTER, READ_CHUNK
from kura.backups.manifest import Manifest
from kura.backups.pgtools import clean_env, conninfo_without_password, tool
from kura.config import Settings
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


def verify_file(path: Path, manifest: Manifest) -> None:
    """sha256 and size match the signed manifest; the gzip stream is whole and complete."""
    digest = hashlib.sha256()
    decompressor = zlib.decompressobj(31)
    size = 0
    tail = b""
    try:
        with path.open("rb") as handle:
            while chunk := handle.read(READ_CHUNK):
                size += len(chunk)
                digest.update(chunk)
                tail = (tail + decompressor.decompress(chunk))[-512:]
        tail = (tail + decompressor.flush())[-512:]
    except zlib.error:
        raise BackupCorrupt("the gzip stream is damaged") from None
    if size != manifest.size_bytes or digest.hexdigest() != manifest.sha256:
        raise BackupCorrupt("the file does not match its manifest (size or sha256)")
    if not decompressor.eof or DUMP_FOOTER not in tail:
        raise BackupCorrupt("the dump inside the file is incomplete")


def scratch_name(database: str, now: datetime) -> str:
    return f"{database[:40]}_restore_{now:%Y%m%d%H%M%S}"


async def _server_major(conn: psycopg.AsyncConnection) -> int:
    row = await (await conn.execute("SHOW server_version_num")).fetchone()
    return int(row[0]) // 10000 if row else 0


async def load_into_scratch(
    settings: Settings, live: URL, control: psycopg.AsyncConnection, path: Path, manifest: Manifest
) -> str:
    """Create a scratch database, apply the dump in one transaction, verify it. Returns its name;
    on any failure the scratch database is dropped and RestoreFailed raised."""
    scratch = scratch_name(str(live.database), datetime.now(UTC))
    await control.execute(
        sql.SQL("CREATE DATABASE {} TEMPLATE template0").format(sql.Identifier(scratch))
    )
    try:
        await _apply(settings, live.set(database=scratch), path, await _server_major(control))
        await _verify_scratch(live.set(database=scratch), manifest)
    except BaseException:
        await drop_database(control, scratch)
        raise
    return scratch


async def _apply(settings: Settings, target: URL, path: Path, server_major: int) -> None:
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
    decompressor = zlib.decompressobj(31)
    header = True
    try:
        with path.open("rb") as handle:
            while chunk := await asyncio.to_thread(handle.read, READ_CHUNK):
                data = await asyncio.to_thread(decompressor.decompress, chunk)
                if header and server_major < 17:
                    data = _NEWER_SETTINGS.sub(b"", data)
                header = False
                process.stdin.write(data)
                await process.stdin.drain()
        process.stdin.write(decompressor.flush())
        await process.stdin.drain()
        process.stdin.close()
    except (BrokenPipeError, ConnectionResetError):
        pass  # psql stopped on an error; its exit status says so below
    code = await process.wait()
    stderr = (await stderr_task).decode(errors="replace").strip()
    if code != 0:
        log.error("restore.psql_failed", status=code, stderr=stderr[-2000:])
        raise RestoreFailed(f"psql stopped applying the dump with status {code}")
    if stderr:
        log.warning("restore.psql_stderr", stderr=stderr[-2000:])


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


async def drop_database(control: psycopg.AsyncConnection, name: str) -> None:
    await control.execute(
        sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
    )


async def swap_in(control: psycopg.AsyncConnection, *, live: str, scratch: str) -> None:
    """Replace `live` by `scratch` (renames), ending every other connection to `live`."""
    retired = f"{live[:40]}_replaced_{datetime.now(UTC):%Y%m%d%H%M%S}"
    live_id, retired_id, scratch_id = (sql.Identifier(n) for n in (live, retired, scratch))
    await control.execute(sql.SQL("ALTER DATABASE {} ALLOW_CONNECTIONS false").format(live_id))
    try:
        for attempt in range(20):
            await control.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = %s AND pid <> pg_backend_pid()",
                (live,),
            )
            try:
                await control.execute(
                    sql.SQL("ALTER DATABASE {} RENAME TO {}").format(live_id, retired_id)
                )
                break
            except psycopg.errors.ObjectInUse:
                if attempt == 19:
                    raise RestoreFailed("other sessions kept the database busy") from None
                await asyncio.sleep(0.25)
    except BaseException:
        await control.execute(sql.SQL("ALTER DATABASE {} ALLOW_CONNECTIONS true").format(live_id))
        raise
    try:
        await control.execute(sql.SQL("ALTER DATABASE {} RENAME TO {}").format(scratch_id, live_id))
    except BaseException:
        await control.execute(sql.SQL("ALTER DATABASE {} RENAME TO {}").format(retired_id, live_id))
        await control.execute(sql.SQL("ALTER DATABASE {} ALLOW_CONNECTIONS true").format(live_id))
        raise
    await drop_database(control, retired)
