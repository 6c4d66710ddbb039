"""Which database errors mean "the database is unreachable" rather than "this query is wrong"."""

from __future__ import annotations

import psycopg
from sqlalchemy import exc as sa_exc

# SQLSTATE classes of a server that is gone, starting, shutting down or out of connections.
_OUTAGE_SQLSTATE_PREFIXES = ("08", "57P", "53300")


def is_database_outage(exc: BaseException) -> bool:
    current: BaseException | None = exc
    for _ in range(5):
        if current is None:
            return False
        if isinstance(current, sa_exc.TimeoutError):  # no free connection in the pool
            return True
        if isinstance(current, sa_exc.DBAPIError) and current.connection_invalidated:
            return True
        original = current.orig if isinstance(current, sa_exc.DBAPIError) else current
        if isinstance(original, psycopg.OperationalError | psycopg.InterfaceError):
            state = original.sqlstate
            # No SQLSTATE: the client could not connect or lost the connection.
            if state is None or state.startswith(_OUTAGE_SQLSTATE_PREFIXES):
                return True
        if isinstance(current, ConnectionError | TimeoutError):
            return True
        current = current.__cause__ or current.__context__
    return False
