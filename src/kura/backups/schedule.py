"""The daily backup's schedule: BACKUP_CRON, registered on the queue before a worker starts."""

from __future__ import annotations

import procrastinate
from croniter import croniter

from kura.backups.tasks import scheduled_backup
from kura.config import Settings
from kura.errors import ConfigError


def schedule_backups(app: procrastinate.App, settings: Settings) -> None:
    """Idempotent: the in-process and standalone workers may both call it."""
    if not croniter.is_valid(settings.backup_cron):
        raise ConfigError(f"BACKUP_CRON is not a valid cron expression: {settings.backup_cron!r}")
    key = (scheduled_backup.name, "daily")
    existing = app.periodic_registry.periodic_tasks.get(key)
    if existing is not None and existing.cron == settings.backup_cron:
        return
    app.periodic_registry.periodic_tasks.pop(key, None)
    app.periodic_registry.register_task(
        task=scheduled_backup, cron=settings.backup_cron, periodic_id="daily", configure_kwargs={}
    )
