"""The console's read-only pages: deployment status and the audit log."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse
from sqlalchemy import Select, func, select

from kura.audit.query import AuditFilter, search_events
from kura.audit.service import AuditAction
from kura.console.web import PREFIX, ConsoleRoute, Operator, render, settings_of
from kura.db.session import DbSession, get_database
from kura.errors import BadRequest
from kura.ops.status import OperatorStatus, collect_status
from kura.orgs.models import Organization
from kura.users.models import User

router = APIRouter(prefix=PREFIX, route_class=ConsoleRoute, include_in_schema=False)
PAGE_SIZE = 50
STALE_BACKUP_HOURS = 24


def status_warnings(status: OperatorStatus) -> list[str]:
    """What an operator must act on, in words."""
    warnings = []
    if status.environment == "production" and status.stripe_mode != "live":
        warnings.append(
            f"Stripe is in {status.stripe_mode.upper()} mode in production: "
            "no real payment can be taken."
        )
    if status.last_backup_age_hours is None:
        warnings.append("There is no backup yet. Take one on the Backups page.")
    elif status.last_backup_age_hours > STALE_BACKUP_HOURS:
        warnings.append(
            f"The newest backup is {status.last_backup_age_hours:.0f} hours old "
            "(older than a day). Check the daily backup job."
        )
    if not status.job_queue.healthy:
        warnings.append(
            "The job queue needs attention: "
            f"{status.job_queue.workers_alive} worker(s) alive, "
            f"{status.job_queue.failed_last_24h} job(s) failed in the last 24 hours."
        )
    if any(i.state == "invalid" for i in status.integrations):
        warnings.append("An integration is configured wrongly (see the table below).")
    return warnings


@router.get("", response_class=HTMLResponse)
async def status_page(request: Request, auth: Operator, session: DbSession) -> HTMLResponse:
    """Version, schema, integrations, Stripe mode, job queue and newest backup."""
    status = await collect_status(settings_of(request), session, get_database(request))
    return render(
        request,
        "status.html",
        status=status,
        warnings=status_warnings(status),
        page="status",
    )


def _moment(value: str | None, field: str) -> datetime | None:
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise BadRequest(f"{field} is not a date and time (use YYYY-MM-DDTHH:MM).") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


async def _actor_ids(session: DbSession, email: str) -> list[uuid.UUID]:
    rows = await session.scalars(select(User.id).where(func.lower(User.email) == email.lower()))
    return list(rows)


async def _names(session: DbSession, statement: Select[uuid.UUID, str]) -> dict[uuid.UUID, str]:
    """Display names for the ids on one page of events (one query each, not one per row)."""
    return {key: name for key, name in await session.execute(statement)}


@router.get("/audit", response_class=HTMLResponse)
async def audit_page(
    request: Request,
    auth: Operator,
    session: DbSession,
    actor: Annotated[str, Query(max_length=320)] = "",
    action: Annotated[str, Query(max_length=64)] = "",
    since: Annotated[str, Query(max_length=40)] = "",
    until: Annotated[str, Query(max_length=40)] = "",
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> HTMLResponse:
    """The platform's audit log, filtered by actor email, action and time range (UTC)."""
    filters_in = {"actor": actor.strip(), "action": action, "since": since, "until": until}
    actions = [a.value for a in AuditAction]
    context: dict[str, Any] = {"page": "audit", "filters": filters_in, "actions": actions}
    try:
        if action and action not in actions:
            raise BadRequest("Unknown action.")
        filters = AuditFilter(
            actor_ids=await _actor_ids(session, filters_in["actor"]) if actor.strip() else None,
            action=action or None,
            since=_moment(since, "From"),
            until=_moment(until, "Until"),
        )
        found = await search_events(session, auth, filters, page=page, page_size=PAGE_SIZE)
    except BadRequest as exc:
        return render(request, "audit.html", 400, error=exc.detail, results=None, **context)
    actor_ids = {e.actor_id for e in found.events if e.actor_id}
    org_ids = {e.organization_id for e in found.events if e.organization_id}
    emails = await _names(session, select(User.id, User.email).where(User.id.in_(actor_ids)))
    orgs = await _names(
        session, select(Organization.id, Organization.name).where(Organization.id.in_(org_ids))
    )
    query = {k: v for k, v in filters_in.items() if v}
    return render(
        request,
        "audit.html",
        results=found,
        emails=emails,
        orgs=orgs,
        previous_url=f"?{urlencode({**query, 'page': page - 1})}" if page > 1 else None,
        next_url=f"?{urlencode({**query, 'page': page + 1})}" if page < found.pages else None,
        error=None,
        **context,
    )
