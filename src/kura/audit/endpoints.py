"""/api/v1/audit: OWNERs read their organization's trail, superusers the whole platform's."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from sqlalchemy import Select, func, or_, select

from kura.audit.models import AuditEvent
from kura.audit.schemas import AuditEventRead, AuditPage
from kura.auth.dependencies import CurrentAuth
from kura.auth.sessions import Authenticated
from kura.db.session import DbSession
from kura.errors import BadRequest, Forbidden
from kura.users.models import Role

router = APIRouter(prefix="/audit", tags=["audit"])


async def _audit_reader(auth: CurrentAuth) -> Authenticated:
    if not (auth.user.is_superuser or auth.user.role == Role.OWNER):
        raise Forbidden("Only the practice owner or a platform operator can read the audit log.")
    return auth


def readable(auth: Authenticated) -> Select[AuditEvent]:
    statement = select(AuditEvent)
    if not auth.user.is_superuser:
        statement = statement.where(AuditEvent.organization_id == auth.user.organization_id)
    return statement


@router.get("", response_model=AuditPage, responses={403: {"description": "Not an owner"}})
async def list_audit_events(
    auth: Annotated[Authenticated, Depends(_audit_reader)],
    session: DbSession,
    actor_id: uuid.UUID | None = None,
    patient_id: uuid.UUID | None = None,
    action: Annotated[str | None, Query(max_length=64)] = None,
    since: datetime | None = None,
    until: datetime | None = None,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    page_size: Annotated[int, Query(ge=1, le=200)] = 50,
) -> AuditPage:
    """Audit events, newest first, filterable by actor, patient, action and time range."""
    if since and until and since > until:
        raise BadRequest("`since` must be before `until`.")
    statement = readable(auth)
    if actor_id:
        statement = statement.where(AuditEvent.actor_id == actor_id)
    if patient_id:
        statement = statement.where(
            or_(
                AuditEvent.target_id == str(patient_id),
                AuditEvent.details["patient_id"].astext == str(patient_id),
            )
        )
    if action:
        statement = statement.where(AuditEvent.action == action)
    if since:
        statement = statement.where(AuditEvent.occurred_at >= since)
    if until:
        statement = statement.where(AuditEvent.occurred_at < until)
    total = await session.scalar(select(func.count()).select_from(statement.subquery()))
    rows = await session.scalars(
        statement.order_by(AuditEvent.occurred_at.desc(), AuditEvent.id.desc())
        .limit(page_size)
        .offset((page - 1) * page_size)
    )
    return AuditPage(
        items=[AuditEventRead.model_validate(r) for r in rows],
        total=int(total or 0),
        page=page,
        page_size=page_size,
    )
