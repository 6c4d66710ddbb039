"""The request's database session: one transaction per request, committed once at the end."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from kura.db.engine import Database


def get_database(request: Request) -> Database:
    database: Database = request.app.state.database
    return database


async def _request_session(request: Request) -> AsyncIterator[AsyncSession]:
    async with get_database(request).sessionmaker() as session:
        try:
            yield session
        except BaseException:
            await session.rollback()
            raise
        else:
            await session.commit()


# scope="function": commit before the response is sent, so a failed commit is the response.
DbSession = Annotated[AsyncSession, Depends(_request_session, scope="function")]
