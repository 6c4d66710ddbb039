"""GET /api/v1/admin/status: what an operator (and `kura verify`) needs to know — never a value."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, Request
from pydantic import BaseModel
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from kura import __version__
from kura.auth.dependencies import SuperAdmin
from kura.backups.service import BackupService
from kura.config import Settings
from kura.db.engine import Database
from kura.db.session import DbSession, get_database
from kura.ops.integrations import integration_statuses
from kura.payments.stripe_client import stripe_mode
from kura.storage.factory import backup_store

router = APIRouter(prefix="/admin", tags=["admin"])


class Integration(BaseModel):
    name: str
    state: str
    note: str


class JobQueue(BaseModel):
    healthy: bool
    waiting: int
    failed_last_24h: int
    workers_alive: int


class OperatorStatus(BaseModel):
    version: str
    environment: str
    migration_revision: str | None
    integrations: list[Integration]
    stripe_mode: str
    sentry: bool
    job_queue: JobQueue
    last_backup_at: datetime | None
    last_backup_age_hours: float | None
    storage_location: str


@router.get("/status", response_model=OperatorStatus)
async def operator_status(request: Request, auth: SuperAdmin, session: DbSession) -> OperatorStatus:
    """Version, schema, integrations, Stripe mode, job queue and newest backup (superusers)."""
    return await collect_status(request.app.state.settings, session, get_database(request))


async def collect_status(
    settings: Settings, session: AsyncSession, database: Database
) -> OperatorStatus:
    """The operator's view of this deployment (API and console share it)."""
    revision = await session.scalar(text("SELECT version_num FROM alembic_version LIMIT 1"))
    queue = (
        await session.execute(
            text(
                "SELECT"
                " (SELECT count(*) FROM procrastinate_jobs WHERE status = 'todo'),"
                " (SELECT count(*) FROM procrastinate_jobs j JOIN procrastinate_events e"
                "   ON e.job_id = j.id WHERE j.status = 'failed' AND e.type = 'failed'"
                "   AND e.at > now() - interval '24 hours'),"
                " (SELECT count(*) FROM procrastinate_workers"
                "   WHERE last_heartbeat > now() - interval '2 minutes')"
            )
        )
    ).one()
    waiting, failed, workers = (int(v or 0) for v in queue)
    store = backup_store(settings)
    backups = await BackupService(settings, store, database).list_backups()
    newest = backups[0].created_at if backups else None
    integrations = [
        Integration(name=s.name, state=s.state, note=s.note) for s in integration_statuses(settings)
    ]
    return OperatorStatus(
        version=__version__,
        environment=settings.environment,
        migration_revision=revision,
        integrations=integrations,
        stripe_mode=stripe_mode(settings),
        sentry=any(i.name == "sentry" and i.state == "configured" for i in integrations),
        job_queue=JobQueue(
            healthy=workers > 0 and failed == 0,
            waiting=waiting,
            failed_last_24h=failed,
            workers_alive=workers,
        ),
        last_backup_at=newest,
        last_backup_age_hours=round((datetime.now(UTC) - newest).total_seconds() / 3600, 2)
        if newest
        else None,
        storage_location=store.location,
    )
