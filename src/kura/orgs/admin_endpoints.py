"""Platform operators' changes to a practice: its own WhatsApp number is assigned here only
(a practice that could pick any number could take over someone else's)."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Request
from sqlalchemy.exc import IntegrityError

from kura.audit.service import AuditAction, record
from kura.auth.dependencies import SuperAdmin
from kura.config import Settings
from kura.db.session import DbSession
from kura.errors import Conflict, NotFound
from kura.inputs import Input
from kura.orgs.models import Organization
from kura.orgs.schemas import OrganizationRead
from kura.phones import Phone
from kura.request_info import client_ip

router = APIRouter(prefix="/admin", tags=["admin"])


class OrganizationAdminUpdate(Input):
    whatsapp_number: Phone | None = None


class OrganizationAdminRead(OrganizationRead):
    whatsapp_number: str | None


def _digits(number: str) -> str:
    return "".join(c for c in number if c.isdigit())


@router.patch(
    "/organizations/{organization_id}",
    response_model=OrganizationAdminRead,
    responses={409: {"description": "The shared number, or another practice's number"}},
)
async def update_organization(
    organization_id: uuid.UUID,
    body: OrganizationAdminUpdate,
    auth: SuperAdmin,
    request: Request,
    session: DbSession,
) -> Organization:
    """Assign (or remove, with null) a practice's own WhatsApp number (operators only)."""
    organization = await session.get(Organization, organization_id)
    if organization is None:
        raise NotFound("No such organization.")
    settings: Settings = request.app.state.settings
    number = body.whatsapp_number
    shared = settings.twilio_whatsapp_number
    if number and shared and _digits(number) == _digits(shared):
        raise Conflict("That is the platform's shared WhatsApp number; it belongs to no practice.")
    organization.whatsapp_number = number
    try:
        async with session.begin_nested():
            await session.flush()
    except IntegrityError:
        raise Conflict("Another practice already has this WhatsApp number.") from None
    await record(
        session,
        AuditAction.ORGANIZATION_NUMBER_ASSIGNED,
        organization_id=organization.id,
        actor_id=auth.user.id,
        target_type="organization",
        target_id=organization.id,
        ip=client_ip(request),
        details={"assigned": number is not None},
    )
    return organization
