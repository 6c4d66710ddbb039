"""Who asked for a restore, and the audit line of how it ended (written by the restore itself
or, after a crash, by the start-up repair: exactly one either way)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from kura.audit.service import AuditAction, record
from kura.backups.swap import RestoreIntent


@dataclass(frozen=True)
class Actor:
    user_id: uuid.UUID | None = None
    organization_id: uuid.UUID | None = None
    ip: str | None = None


def _uuid(value: str | None) -> uuid.UUID | None:
    try:
        return uuid.UUID(value) if value else None
    except ValueError:
        return None


async def record_outcome(
    session: AsyncSession, intent: RestoreIntent, action: AuditAction, **details: str
) -> None:
    await record(
        session,
        action,
        organization_id=_uuid(intent.organization_id),
        actor_id=_uuid(intent.actor_id),
        target_type="backup",
        target_id=intent.backup,
        ip=intent.ip,
        details={"filename": intent.backup, **details},
    )
