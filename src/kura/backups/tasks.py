"""The daily backup: deferred once per tick however many workers run (see backups.schedule)."""

from __future__ import annotations

import procrastinate

from kura.backups.recovery import prepare_database
from kura.backups.service import BackupService
from kura.errors import Conflict
from kura.logging import get_logger
from kura.storage.factory import backup_store

blueprint = procrastinate.Blueprint()
log = get_logger(__name__)


@blueprint.task(name="scheduled_backup", pass_context=True, queue="backups")
async def scheduled_backup(context: procrastinate.JobContext, timestamp: int) -> None:
    """Take the scheduled backup (retention is applied after it succeeds)."""
    settings = context.additional_context["settings"]
    database = context.additional_context["database"]
    service = BackupService(settings, backup_store(settings), database)
    try:
        manifest = await service.create(kind="scheduled")
    except Conflict:
        # An operator's backup or restore is running right now: that one will do.
        log.warning("backup.scheduled_skipped", reason="another backup or restore is running")
        return
    log.info("backup.scheduled_done", filename=manifest.filename, tick=timestamp)


@blueprint.periodic(cron="41 * * * *")
@blueprint.task(name="sweep_backup_leftovers", pass_context=True, queue="backups")
async def sweep_backup_leftovers(context: procrastinate.JobContext, timestamp: int) -> None:
    """Hourly: finish an interrupted restore if any, remove staged dumps, orphan files and
    stale restore copies (see recovery and sweeper)."""
    settings = context.additional_context["settings"]
    database = context.additional_context["database"]
    await prepare_database(database.engine.url, settings)
