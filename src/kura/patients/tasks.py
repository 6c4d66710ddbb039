"""The records' daily purge (see kura.patients.purge)."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime

import procrastinate

from kura.logging import get_logger

blueprint = procrastinate.Blueprint()
log = get_logger(__name__)


@blueprint.periodic(cron="23 3 * * *")
@blueprint.task(name="purge_records", pass_context=True, queue="maintenance")
async def purge_records(context: procrastinate.JobContext, timestamp: int) -> None:
    """Daily: erase records past retention, drafts past their restore window, closed practices."""
    from kura.briefings.service import remove_audio
    from kura.exports.storage import export_store
    from kura.orgs.closure import erase_closed_practices
    from kura.patients.purge import erase_due_patients, purge_deleted_drafts
    from kura.storage.blobs import BlobNotFound

    database = context.additional_context["database"]
    moment = datetime.fromtimestamp(timestamp, UTC)
    erased = drafts = 0
    while True:  # in batches, each its own transaction: a long backlog never holds one lock
        async with database.sessionmaker() as session, session.begin():
            batch = await erase_due_patients(session, moment)
        erased += batch
        if batch == 0:
            break
    async with database.sessionmaker() as session, session.begin():
        drafts = await purge_deleted_drafts(session, moment)
    async with database.sessionmaker() as session, session.begin():
        audio, exports = await erase_closed_practices(session, moment)
    settings = context.additional_context["settings"]
    await remove_audio(settings, audio)  # after the commit: a rolled-back erasure keeps them
    store = export_store(settings)
    for name in exports:
        with contextlib.suppress(BlobNotFound):
            await store.delete(name)
    log.info("records.purged", patients=erased, drafts=drafts, tick=timestamp)
