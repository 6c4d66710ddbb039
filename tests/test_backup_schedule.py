"""The daily backup: scheduled from settings, run by a real worker, once per tick."""

from __future__ import annotations

import pytest

from kura.backups.service import BackupService
from kura.backups.tasks import scheduled_backup
from kura.errors import ConfigError
from kura.jobs.queue import job_app, job_queue
from kura.jobs.schedule import register_schedules
from kura.jobs.worker import job_context
from kura.storage.factory import backup_store
from tests.backup_support import BackupEnv


def test_the_schedule_comes_from_settings(backup_env: BackupEnv) -> None:
    register_schedules(job_app, backup_env.settings.model_copy(update={"backup_cron": "0 4 * * *"}))
    entry = job_app.periodic_registry.periodic_tasks[("backups:scheduled_backup", "daily")]
    assert entry.cron == "0 4 * * *"
    register_schedules(job_app, backup_env.settings)  # idempotent, and follows a change
    entry = job_app.periodic_registry.periodic_tasks[("backups:scheduled_backup", "daily")]
    assert entry.cron == "30 3 * * *"
    with pytest.raises(ConfigError, match="BACKUP_CRON"):
        register_schedules(job_app, backup_env.settings.model_copy(update={"backup_cron": "daily"}))


async def test_a_worker_runs_the_scheduled_backup(backup_env: BackupEnv) -> None:
    async with job_queue(backup_env.url) as queue:
        await scheduled_backup.defer_async(**{"timestamp": 0})
        await queue.run_worker_async(
            wait=False,
            install_signal_handlers=False,
            listen_notify=False,
            additional_context=job_context(backup_env.database, backup_env.settings),
        )
    service = BackupService(
        backup_env.settings, backup_store(backup_env.settings), backup_env.database
    )
    kinds = [m.kind for m in await service.list_backups()]
    assert kinds == ["scheduled"]
