"""The export job and the periodic expiry of export files."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import procrastinate

from kura.logging import get_logger

blueprint = procrastinate.Blueprint()
log = get_logger(__name__)


@blueprint.task(name="build_export", pass_context=True, queue="exports")
async def build_export(context: procrastinate.JobContext, export_id: str) -> None:
    """Build a requested export's ZIP (READY or FAILED; safe to run twice)."""
    from kura.exports.service import run_export

    settings = context.additional_context["settings"]
    database = context.additional_context["database"]
    await run_export(database, settings, uuid.UUID(export_id))


@blueprint.periodic(cron="17 * * * *")
@blueprint.task(name="expire_exports", pass_context=True, queue="exports")
async def expire_exports(context: procrastinate.JobContext, timestamp: int) -> None:
    """Hourly: delete export files past EXPORT_RETENTION_DAYS and mark them EXPIRED."""
    from kura.exports.service import expire_exports as expire

    settings = context.additional_context["settings"]
    database = context.additional_context["database"]
    expired = await expire(database, settings, datetime.fromtimestamp(timestamp, UTC))
    log.info("exports.expired", count=expired, tick=timestamp)
