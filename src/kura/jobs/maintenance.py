"""Housekeeping of the job queue itself."""

from __future__ import annotations

import procrastinate

from kura.logging import get_logger

blueprint = procrastinate.Blueprint()
log = get_logger(__name__)

# Succeeded jobs are only history; failed ones stay for the operator to inspect.
FINISHED_JOB_RETENTION_HOURS = 24 * 7


@blueprint.periodic(cron="17 * * * *")
@blueprint.task(name="prune_finished_jobs", pass_context=True, queue="maintenance")
async def prune_finished_jobs(context: procrastinate.JobContext, timestamp: int) -> None:
    """Delete jobs that succeeded or were cancelled more than a week ago."""
    await context.app.job_manager.delete_old_jobs(
        nb_hours=FINISHED_JOB_RETENTION_HOURS, include_cancelled=True
    )
    log.info("jobs.pruned", retention_hours=FINISHED_JOB_RETENTION_HOURS, tick=timestamp)
