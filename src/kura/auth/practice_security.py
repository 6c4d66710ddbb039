"""/api/v1/practice/security: the owner's two-step verification policy for the practice."""

from __future__ import annotations

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from kura.audit.service import AuditAction, record
from kura.auth.dependencies import CurrentAuth, Owner
from kura.db.session import DbSession
from kura.errors import Conflict
from kura.inputs import Input
from kura.orgs.models import Organization
from kura.request_info import client_ip

router = APIRouter(prefix="/practice", tags=["practice"])


class SecuritySettings(BaseModel):
    mfa_required: bool = Field(
        description="Members must pass two-step verification before anything but MFA setup"
    )


class SecuritySettingsUpdate(Input):
    mfa_required: bool


@router.get("/security", response_model=SecuritySettings)
async def get_security_settings(auth: CurrentAuth) -> SecuritySettings:
    """Whether the practice requires two-step verification of its members."""
    return SecuritySettings(mfa_required=auth.organization.mfa_required)


@router.patch(
    "/security",
    response_model=SecuritySettings,
    responses={
        403: {"description": "Not the practice owner"},
        409: {"description": "Turning it on from a session that has not passed MFA itself"},
    },
)
async def update_security_settings(
    body: SecuritySettingsUpdate, auth: Owner, request: Request, session: DbSession
) -> SecuritySettings:
    """Require (or stop requiring) two-step verification for every member of the practice."""
    if body.mfa_required and auth.mfa_verified_at is None:
        raise Conflict(
            "Turn on two-step verification for yourself first (POST /api/v1/auth/mfa/setup), "
            "so that requiring it does not lock you out."
        )
    organization = await session.get_one(Organization, auth.user.organization_id)
    organization.mfa_required = body.mfa_required
    await session.flush()
    await record(
        session,
        AuditAction.PRACTICE_SECURITY_UPDATED,
        organization_id=organization.id,
        actor_id=auth.user.id,
        target_type="organization",
        target_id=organization.id,
        ip=client_ip(request),
        details={"mfa_required": body.mfa_required},
    )
    return SecuritySettings(mfa_required=organization.mfa_required)
