"""One list shape for every collection (#18): `{items, total, page, page_size}`.

Every GET that lists things answers a `Page[...]` (a named subclass per collection, e.g.
`class PatientPage(Page[PatientRead])`, so the OpenAPI schema and generated clients get a
readable name) and takes the same two query parameters,
`page` (1-based) and `page_size` (1 to 200, default 50), through the `Pagination` dependency.
`total` counts the same filtered query the items come from, so a client walks
`ceil(total / page_size)` pages. The order of each list is fixed by its endpoint (a stable
tie-breaker included), so pages neither repeat nor skip a row between two requests.

Part of the core: it imports no domain.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Generic, Self, TypeVar

from fastapi import Depends, Query
from pydantic import BaseModel
from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 200
MAX_PAGE = 100_000

Item = TypeVar("Item")
Row = TypeVar("Row")


class Page(BaseModel, Generic[Item]):
    """A page of a collection: its items, how many match in all, which page, its size."""

    items: list[Item]
    total: int
    page: int
    page_size: int

    @classmethod
    def of(cls, rows: Sequence[Any], total: int, params: PageParams, **extra: Any) -> Self:
        """The page holding `rows` (ORM objects are read through their attributes)."""
        body = {"items": list(rows), "total": total, "page": params.page}
        return cls.model_validate(
            {**body, "page_size": params.page_size, **extra}, from_attributes=True
        )


@dataclass(frozen=True)
class PageParams:
    page: int = 1
    page_size: int = DEFAULT_PAGE_SIZE

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.page_size

    def slice(self, rows: Sequence[Row]) -> list[Row]:
        """This page of a list already in memory."""
        return list(rows[self.offset : self.offset + self.page_size])


def page_params(
    page: Annotated[int, Query(ge=1, le=MAX_PAGE, description="1-based page number")] = 1,
    page_size: Annotated[
        int, Query(ge=1, le=MAX_PAGE_SIZE, description="Items per page")
    ] = DEFAULT_PAGE_SIZE,
) -> PageParams:
    return PageParams(page=page, page_size=page_size)


Pagination = Annotated[PageParams, Depends(page_params)]


async def paginate(
    session: AsyncSession, statement: Select[Row], params: PageParams
) -> tuple[list[Row], int]:
    """One page of an ordered query and the count of the whole (same filters, no order)."""
    counted = statement.order_by(None).subquery()
    total = await session.scalar(select(func.count()).select_from(counted))
    rows = await session.scalars(statement.limit(params.page_size).offset(params.offset))
    return list(rows), int(total or 0)
