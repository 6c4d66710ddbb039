"""Swapping a verified scratch database in under the live name, so that a kill at any instant
leaves something a restart can finish or undo.

The intent is the scratch database's comment (a durable, transactional catalog entry that
travels with the database through the renames), written when it is created ("loading") and
marked "ready" once its content is verified, before the swap's first statement. The commit
point is the rename of the live database to its retired name: a restart that finds a ready
intent and no live database rolls forward; one that finds the live database rolls back.

Phases (each a `pause_point`, so the fault tests can kill the process exactly there):
  intent_recorded → connections_refused (new database sealed: sessions ended, outcome
  audited inside it) → live_retired → restored_live → intent cleared.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, replace

import psycopg
from psycopg import sql

from kura.backups.faults import pause_point
from kura.errors import KuraError

INTENT_PREFIX = "kura-restore "


class SwapFailed(KuraError):
    status_code = 500
    code = "restore_failed"


@dataclass(frozen=True)
class RestoreIntent:
    """What a restart needs to finish or undo a swap, and to audit its outcome."""

    live: str
    retired: str
    backup: str
    phase: str = "loading"  # → "ready" once loaded and verified: only then may it go live
    actor_id: str | None = None
    organization_id: str | None = None
    ip: str | None = None

    def encode(self) -> str:
        return INTENT_PREFIX + json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def decode(cls, comment: str | None) -> RestoreIntent | None:
        if not comment or not comment.startswith(INTENT_PREFIX):
            return None
        try:
            fields = json.loads(comment[len(INTENT_PREFIX) :])
            return cls(**{k: fields.get(k) for k in cls.__dataclass_fields__})
        except (ValueError, TypeError):
            return None


def _ident(name: str) -> sql.Identifier:
    return sql.Identifier(name)


async def set_comment(control: psycopg.AsyncConnection, database: str, text: str | None) -> None:
    value = sql.Literal(text) if text is not None else sql.SQL("NULL")
    await control.execute(sql.SQL("COMMENT ON DATABASE {} IS {}").format(_ident(database), value))


async def allow_connections(control: psycopg.AsyncConnection, database: str, allow: bool) -> None:
    await control.execute(
        sql.SQL("ALTER DATABASE {} ALLOW_CONNECTIONS {}").format(
            _ident(database), sql.SQL("true" if allow else "false")
        )
    )


async def rename(control: psycopg.AsyncConnection, old: str, new: str) -> None:
    await control.execute(
        sql.SQL("ALTER DATABASE {} RENAME TO {}").format(_ident(old), _ident(new))
    )


async def drop_database(control: psycopg.AsyncConnection, name: str) -> None:
    await control.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(_ident(name)))


async def _end_connections(control: psycopg.AsyncConnection, database: str) -> None:
    await control.execute(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
        "WHERE datname = %s AND pid <> pg_backend_pid()",
        (database,),
    )


async def _retire(control: psycopg.AsyncConnection, live: str, retired: str) -> None:
    for attempt in range(20):
        await _end_connections(control, live)
        try:
            await rename(control, live, retired)
            return
        except psycopg.errors.ObjectInUse:
            if attempt == 19:
                raise SwapFailed(
                    "The restore failed (other sessions kept the database busy); the live "
                    "database was not changed."
                ) from None
            await asyncio.sleep(0.25)


async def swap_in(
    control: psycopg.AsyncConnection,
    *,
    scratch: str,
    intent: RestoreIntent,
    seal: Callable[[], Awaitable[None]] | None = None,
) -> None:
    """Replace `intent.live` by `scratch`. `seal` (awaited once no one can connect to the live
    database) readies the new one: sessions ended, outcome audited — inside it, so both
    happen exactly when it goes live."""
    live, retired = intent.live, intent.retired
    await set_comment(control, scratch, replace(intent, phase="ready").encode())
    await pause_point("intent_recorded")
    await allow_connections(control, live, False)
    try:
        await _end_connections(control, live)
        if seal is not None:
            await seal()
        await pause_point("connections_refused")
        await _retire(control, live, retired)
    except BaseException:
        await allow_connections(control, live, True)
        raise
    await pause_point("live_retired")
    try:
        await rename(control, scratch, live)
    except BaseException:
        await rename(control, retired, live)
        await allow_connections(control, live, True)
        raise
    await pause_point("restored_live")
    await set_comment(control, live, None)
    # The replaced copy stays reachable for recovery by hand until the sweeper drops it
    # (BACKUP_RETIRED_DATABASE_HOURS); a kill before this line is repaired at the next start.
    await allow_connections(control, retired, True)
