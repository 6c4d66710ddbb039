"""Engine and session factory for one database, owned by the app's lifespan."""

from __future__ import annotations

import asyncio

from sqlalchemy import text
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

CONNECT_TIMEOUT_SECONDS = 10


class Database:
    """An async engine plus the session factory every request and job uses."""

    def __init__(
        self,
        engine: AsyncEngine,
        *,
        sessionmaker: async_sessionmaker[AsyncSession] | None = None,
        owns_engine: bool = True,
    ) -> None:
        self.engine = engine
        self.sessionmaker = sessionmaker or async_sessionmaker(engine, expire_on_commit=False)
        self._owns_engine = owns_engine

    @classmethod
    def connect(cls, url: URL, *, pool_size: int = 5, max_overflow: int | None = None) -> Database:
        engine = create_async_engine(
            url,
            pool_size=pool_size,
            max_overflow=pool_size if max_overflow is None else max_overflow,
            pool_pre_ping=True,
            # Bound values (message bodies, notes, names, phones) never reach logs or Sentry
            # through a database error's text.
            hide_parameters=True,
            connect_args={
                "connect_timeout": CONNECT_TIMEOUT_SECONDS,
                "application_name": "kura",
            },
        )
        return cls(engine)

    @classmethod
    def for_connection(cls, connection: AsyncConnection) -> Database:
        """Sessions inside an outer transaction that the caller rolls back (test isolation)."""
        sessionmaker = async_sessionmaker(
            bind=connection, expire_on_commit=False, join_transaction_mode="create_savepoint"
        )
        return cls(connection.engine, sessionmaker=sessionmaker, owns_engine=False)

    async def ping(self, *, within_seconds: float = 3.0) -> None:
        """Raise when the database does not answer SELECT 1 within the given time."""
        async with asyncio.timeout(within_seconds), self.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    async def dispose(self) -> None:
        if self._owns_engine:
            await self.engine.dispose()
