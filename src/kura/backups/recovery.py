"""At every start (server, worker, migration job, backup CLI): finish or undo a restore that a
kill interrupted, then sweep what crashes left behind.

The rule (see `swap`): the commit point is the live database's rename to its retired name.
  - a database under the live name still carries the intent → the new data went live; only
    the intent is left to clear (its sealing already ended sessions and audited it);
  - a "ready" scratch database and no live database → roll forward (rename it in);
  - any other scratch database with an intent (still loading, or the live database is still
    there) → roll back (drop the scratch, re-allow connections, audit `restore.failed`);
  - no live database, no intent, a retired copy (an older version's crash) → rename the
    newest retired copy back.
Finally the live database always accepts connections again.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import psycopg
from sqlalchemy.engine import URL
from sqlalchemy.exc import SQLAlchemyError

from kura.audit.service import AuditAction
from kura.backups.lock import operation_lock
from kura.backups.outcomes import record_outcome
from kura.backups.swap import RestoreIntent, allow_connections, drop_database, rename, set_comment
from kura.backups.sweeper import sweep
from kura.config import Settings
from kura.db.copies import is_retired_of
from kura.db.engine import Database
from kura.logging import get_logger
from kura.storage.factory import backup_store

log = get_logger(__name__)


@dataclass(frozen=True)
class _Entry:
    name: str
    allows_connections: bool
    intent: RestoreIntent | None


async def _databases(control: psycopg.AsyncConnection) -> dict[str, _Entry]:
    rows = await (
        await control.execute(
            "SELECT datname, datallowconn, shobj_description(oid, 'pg_database') FROM pg_database"
        )
    ).fetchall()
    return {
        name: _Entry(name, bool(allow), RestoreIntent.decode(text)) for name, allow, text in rows
    }


async def _repair(control: psycopg.AsyncConnection, live: str) -> tuple[str, RestoreIntent] | None:
    databases = await _databases(control)
    current = databases.get(live)
    pending = sorted(
        (e for e in databases.values() if e.intent and e.intent.live == live and e.name != live),
        key=lambda e: e.name,
    )
    outcome: tuple[str, RestoreIntent] | None = None
    if current is not None and current.intent is not None:
        await set_comment(control, live, None)
        outcome = ("completed", current.intent)
    for entry in reversed(pending):  # newest first: at most one can be rolled forward
        assert entry.intent is not None
        if live not in databases and entry.intent.phase == "ready":
            await rename(control, entry.name, live)
            await set_comment(control, live, None)
            databases[live] = _Entry(live, True, None)
            outcome = ("completed", entry.intent)
        else:  # not ready (killed while loading), or the live database is still there
            await drop_database(control, entry.name)
            outcome = outcome or ("rolled_back", entry.intent)
    if live not in databases:
        retired = sorted(name for name in databases if is_retired_of(live, name))
        if retired:
            await rename(control, retired[-1], live)
            databases[live] = _Entry(live, False, None)
            outcome = ("rolled_back", RestoreIntent(live=live, retired=retired[-1], backup=""))
    if live in databases and not databases[live].allows_connections:
        await allow_connections(control, live, True)
        outcome = outcome or ("reconnected", RestoreIntent(live=live, retired="", backup=""))
    for name, entry in databases.items():  # retired copies stay reachable for recovery by hand
        if is_retired_of(live, name) and not entry.allows_connections:
            await allow_connections(control, name, True)
    return outcome


RECOVERY_LOCK_WAIT_SECONDS = 10.0


async def recover_interrupted_restore(url: URL) -> str | None:
    """Finish or undo an interrupted restore of `url`'s database. Returns what was done
    ("completed", "rolled_back", "reconnected") or None; skips while another process holds
    the backup lock (its restore is not interrupted, it is running)."""
    live = str(url.database)
    # A server killed during a restore may hold the lock a moment longer (its backend has not
    # noticed yet): wait a little before taking "busy" for "a restore is running".
    async with operation_lock(url, wait_seconds=RECOVERY_LOCK_WAIT_SECONDS) as control:
        if control is None:
            log.info("restore.recovery_skipped", reason="a backup or restore is running")
            return None
        result = await _repair(control, live)
    if result is None:
        return None
    outcome, intent = result
    if outcome == "rolled_back":
        await _audit_rollback(url, intent)
    log.warning(
        "restore.recovered",
        outcome=outcome,
        filename=intent.backup or None,
        hint="a restore was interrupted; see docs/backups.md",
    )
    return outcome


async def _audit_rollback(url: URL, intent: RestoreIntent) -> None:
    database = Database.connect(url, pool_size=1)
    try:
        async with database.sessionmaker() as session, session.begin():
            await record_outcome(session, intent, AuditAction.RESTORE_FAILED, reason="interrupted")
    finally:
        await database.dispose()


async def prepare_database(url: URL, settings: Settings) -> None:
    """Start-up duties on the database: repair an interrupted restore, then sweep."""
    try:
        await recover_interrupted_restore(url)
    except psycopg.OperationalError as exc:  # the live-database check that follows says more
        log.debug("restore.recovery_unavailable", error_type=type(exc).__name__)
        return
    try:
        await sweep(settings, url, backup_store(settings))
    except (psycopg.Error, OSError, SQLAlchemyError) as exc:  # housekeeping: never block a start
        log.warning("backup.sweep_failed", error_type=type(exc).__name__)


def prepare_database_sync(url: URL, settings: Settings) -> None:
    asyncio.run(prepare_database(url, settings))
