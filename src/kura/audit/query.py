"""Reading the audit trail: who may see what, filters and pages (API and operator console)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, Select, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from kura.audit.models import AuditEvent
from kura.audit.service import AuditAction
from kura.auth.sessions import Authenticated
from kura.errors import BadRequest


@dataclass(frozen=True)
class AuditFilter:
    actor_ids: Sequence[uuid.UUID] | None = None  # None: anyone; empty: no one matches
    patient_id: uuid.UUID | None = None
    action: str | None = None
    since: datetime | None = None
    until: datetime | None = None


@dataclass(frozen=True)
class AuditResults:
    events: list[AuditEvent]
    total: int
    page: int
    page_size: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.page_size))


def action_condition(action: str) -> ColumnElement[bool]:
    """An exact action (`note.signed`) or a whole area (`note`: every `note.*`)."""
    known = {a.value for a in AuditAction}
    if "." in action:
        if action not in known:
            raise BadRequest(f"Unknown audit action {action!r}.")
        return AuditEvent.action == action
    areas = sorted({a.split(".", 1)[0] for a in known})
    if action not in areas:
        raise BadRequest(f"Unknown audit area {action!r}; one of: {', '.join(areas)}.")
    return AuditEvent.action.startswith(f"{action}.")


def readable(auth: Authenticated) -> Select[AuditEvent]:
    statement = select(AuditEvent)
    if not auth.user.is_superuser:
        statement = statement.where(AuditEvent.organization_id == auth.user.organization_id)
    return statement


async def search_events(
    session: AsyncSession, auth: Authenticated, filters: AuditFilter, *, page: int, page_size: int
) -> AuditResults:
    """Events the caller may read, newest first."""
    if filters.since and filters.until and filters.since > filters.until:
        raise BadRequest("`since` must be before `until`.")
    statement = readable(auth)
    if filters.actor_ids is not None:
        statement = statement.where(AuditEvent.actor_id.in_(filters.actor_ids))
    if filters.patient_id:
        patient = str(filters.patient_id)
        statement = statement.where(
            or_(AuditEvent.target_id == patient, AuditEvent.details["patient_id"].astext == patient)
        )
    if filters.action:
        statement = statement.where(action_condition(filters.action))
    if filters.since:
        statement = statement.where(AuditEvent.occurred_at >= filters.since)
    if filters.until:
        statement = statement.where(AuditEvent.occurred_at < filters.until)
    total = await session.scalar(select(func.count()).select_from(statement.subquery()))
    rows = await session.scalars(
        statement.order_by(AuditEvent.occurred_at.desc(), AuditEvent.id.desc())
        .limit(page_size)
        .offset((page - 1) * page_size)
    )
    return AuditResults(list(rows), int(total or 0), page, page_size)
