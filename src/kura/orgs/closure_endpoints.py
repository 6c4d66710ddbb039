"""/api/v1/practice/closure: the owner closes the practice (an export first, 30 days of grace)."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from kura.audit.service import AuditAction, record
from kura.auth.dependencies import Owner
from kura.auth.sessions import Authenticated, utcnow
from kura.auth.stepup import OwnerStepUp
from kura.db.session import DbSession
from kura.errors import BadRequest
from kura.handlers import Responses
from kura.inputs import Input
from kura.orgs import closure
from kura.orgs.models import Organization
from kura.request_info import client_ip

router = APIRouter(prefix="/practice", tags=["practice"])
OWNER_ONLY: Responses = {403: {"description": "Not the practice owner"}}


class ClosureStatus(BaseModel):
    closure_requested_at: datetime | None
    closes_at: datetime | None = Field(description="When the purge erases the practice")


class ClosureRequest(Input):
    confirm: str = Field(max_length=200, description="The practice's name, typed again")


async def _audit(
    session: DbSession,
    auth: Authenticated,
    request: Request,
    action: AuditAction,
    **details: object,
) -> None:
    await record(
        session,
        action,
        organization_id=auth.user.organization_id,
        actor_id=auth.user.id,
        target_type="organization",
        target_id=auth.user.organization_id,
        ip=client_ip(request),
        details=details,
    )


@router.get("/closure", response_model=ClosureStatus, responses=OWNER_ONLY)
async def closure_status(auth: Owner, session: DbSession) -> Organization:
    """Whether the practice is closing, and when it is erased."""
    return await session.get_one(Organization, auth.user.organization_id)


@router.post(
    "/closure",
    response_model=ClosureStatus,
    responses={
        403: {"description": "Not the practice owner, or no fresh two-step verification"},
        400: {"description": "The typed name is not the practice's"},
        409: {"description": "No practice export of the last 7 days, or already closing"},
    },
)
async def request_closure(
    body: ClosureRequest, auth: OwnerStepUp, request: Request, session: DbSession
) -> Organization:
    """Close the practice: everything is erased 30 days from now (cancel until then)."""
    organization = await session.get_one(
        Organization, auth.user.organization_id, with_for_update=True
    )
    if body.confirm.strip() != organization.name:
        raise BadRequest("Type the practice's name exactly to confirm the closure.")
    organization = await closure.request_closure(session, organization, utcnow())
    await _audit(
        session,
        auth,
        request,
        AuditAction.PRACTICE_CLOSURE_REQUESTED,
        closes_at=str(organization.closes_at),
    )
    return organization


@router.delete(
    "/closure",
    response_model=ClosureStatus,
    responses={**OWNER_ONLY, 409: {"description": "The practice is not closing"}},
)
async def cancel_closure(auth: Owner, request: Request, session: DbSession) -> Organization:
    """Keep the practice: the closure is called off."""
    organization = await session.get_one(
        Organization, auth.user.organization_id, with_for_update=True
    )
    organization = await closure.cancel_closure(session, organization)
    await _audit(session, auth, request, AuditAction.PRACTICE_CLOSURE_CANCELLED)
    return organization
