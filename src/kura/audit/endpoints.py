"""/api/v1/audit: OWNERs read their organization's trail, superusers the whole platform's."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query

from kura.audit.query import AuditFilter, search_events
from kura.audit.schemas import AuditPage
from kura.auth.dependencies import CurrentAuth
from kura.auth.sessions import Authenticated
from kura.db.session import DbSession
from kura.errors import Forbidden
from kura.pagination import Pagination
from kura.users.models import Role

router = APIRouter(prefix="/audit", tags=["audit"])


async def _audit_reader(auth: CurrentAuth) -> Authenticated:
    if not (auth.user.is_superuser or auth.user.role == Role.OWNER):
        raise Forbidden("Only the practice owner or a platform operator can read the audit log.")
    return auth


@router.get(
    "",
    response_model=AuditPage,
    responses={
        400: {"description": "`since` is after `until`, or an unknown action or area"},
        403: {"description": "Not an owner"},
    },
)
async def list_audit_events(
    auth: Annotated[Authenticated, Depends(_audit_reader)],
    session: DbSession,
    pages: Pagination,
    actor_id: uuid.UUID | None = None,
    patient_id: uuid.UUID | None = None,
    action: Annotated[
        str | None,
        Query(
            max_length=64,
            description="An action (`note.signed`) or an area (`note`, `booking`, `payment`, "
            "`patient`, …: all its actions)",
        ),
    ] = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> AuditPage:
    """Audit events, newest first, filterable by actor, patient, action and time range."""
    filters = AuditFilter(
        actor_ids=[actor_id] if actor_id else None,
        patient_id=patient_id,
        action=action,
        since=since,
        until=until,
    )
    found = await search_events(session, auth, filters, page=pages.page, page_size=pages.page_size)
    return AuditPage.of(found.events, found.total, pages)
