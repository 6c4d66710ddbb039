"""Step-up: a dangerous action needs a TOTP/recovery code on this session in the last 10 min.

`StepUp` stands in for CurrentAuth; `SuperAdminStepUp` for SuperAdmin (backup restore and
download); `OwnerStepUp` for Owner (practice export, payout account, closure). A refusal is
audited and says to call POST /api/v1/auth/mfa/verify again."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from kura.audit.service import AuditAction, record
from kura.auth.dependencies import CurrentAuth, MfaRequired, Owner, SuperAdmin
from kura.auth.sessions import Authenticated, utcnow
from kura.db.session import DbSession
from kura.request_info import client_ip

STEP_UP_WINDOW = timedelta(minutes=10)


class StepUpRequired(MfaRequired):
    code = "step_up_required"


def is_fresh(auth: Authenticated) -> bool:
    verified = auth.mfa_verified_at
    return verified is not None and utcnow() - verified <= STEP_UP_WINDOW


async def require_fresh_mfa(
    session: AsyncSession, auth: Authenticated, *, ip: str | None, action: str
) -> None:
    """Raise 403 unless this session passed a code within STEP_UP_WINDOW (refusals audited)."""
    if is_fresh(auth):
        return
    await record(
        session,
        AuditAction.MFA_STEP_UP_REFUSED,
        organization_id=auth.user.organization_id,
        actor_id=auth.user.id,
        target_type="user",
        target_id=auth.user.id,
        ip=ip,
        details={"action": action},
    )
    await session.commit()  # the request is refused next; its audit row must stay
    raise StepUpRequired(
        "This action needs a fresh two-step verification (within 10 minutes): send a code "
        "to POST /api/v1/auth/mfa/verify, then try again (set it up first with POST "
        "/api/v1/auth/mfa/setup if you have not)."
    )


async def _step_up(auth: CurrentAuth, request: Request, session: DbSession) -> Authenticated:
    await require_fresh_mfa(session, auth, ip=client_ip(request), action=request.url.path)
    return auth


async def _superuser_step_up(
    auth: SuperAdmin, request: Request, session: DbSession
) -> Authenticated:
    await require_fresh_mfa(session, auth, ip=client_ip(request), action=request.url.path)
    return auth


async def _owner_step_up(auth: Owner, request: Request, session: DbSession) -> Authenticated:
    await require_fresh_mfa(session, auth, ip=client_ip(request), action=request.url.path)
    return auth


StepUp = Annotated[Authenticated, Depends(_step_up)]
# The practice's owner, fresh from a code: practice export, payout account, closure.
OwnerStepUp = Annotated[Authenticated, Depends(_owner_step_up)]
SuperAdminStepUp = Annotated[Authenticated, Depends(_superuser_step_up)]
