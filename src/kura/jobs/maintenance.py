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


# A worker beats every 10 s; one silent for this long is dead (kill -9, a lost instance).
STALLED_AFTER_SECONDS = 60.0


async def retry_stalled_jobs(
    app: procrastinate.App, *, seconds_since_heartbeat: float = STALLED_AFTER_SECONDS
) -> list[int]:
    """Put back in the queue the jobs a dead worker left half-done ('doing' forever otherwise).

    At-least-once: such a job runs again from the start, so tasks are written to be re-runnable
    (a backup is taken again; an email job sends at most one more copy)."""
    stalled = list(
        await app.job_manager.get_stalled_jobs(seconds_since_heartbeat=seconds_since_heartbeat)
    )
    for job in stalled:
        await app.job_manager.retry_job(job)
        log.warning("jobs.stalled_retried", job_id=job.id, task=job.task_name)
    return [job.id for job in stalled if job.id is not None]


@blueprint.periodic(cron="* * * * *")
@blueprint.task(name="retry_stalled_jobs", pass_context=True, queue="maintenance")
async def retry_stalled_jobs_every_minute(
    context: procrastinate.JobContext, timestamp: int
) -> None:
    """Retry jobs whose worker stopped sending heartbeats."""
    await retry_stalled_jobs(context.app)
