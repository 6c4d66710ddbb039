"""Requesting, building, serving and expiring exports. Audit rows carry ids and counts only."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from kura.audit.service import AuditAction, record
from kura.auth.sessions import Authenticated
from kura.config import Settings
from kura.db.base import utcnow
from kura.db.engine import Database
from kura.errors import Conflict, Gone, NotFound
from kura.exports import builder
from kura.exports.archive import ExportArchive
from kura.exports.models import DataExport, ExportKind, ExportStatus
from kura.exports.storage import blob_name, export_store, valid_blob_name
from kura.jobs.defer import defer_in_transaction
from kura.logging import get_logger
from kura.patients.models import Patient
from kura.patients.repository import get_readable
from kura.storage.blobs import BlobNotFound, BlobStore
from kura.users.models import Role

log = get_logger(__name__)
IN_FLIGHT = (ExportStatus.QUEUED, ExportStatus.RUNNING)
FAILED_MESSAGE = "The export could not be built. Request it again; if it keeps failing, contact us."
GONE_MESSAGE = "This export has expired and its file was deleted. Request a new one."


def own_exports(auth: Authenticated) -> Select[DataExport]:
    """The caller's own exports: another user's, even in the same practice, do not exist."""
    return select(DataExport).where(
        DataExport.organization_id == auth.user.organization_id,
        DataExport.requested_by_id == auth.user.id,
    )


async def get_own(session: AsyncSession, auth: Authenticated, export_id: uuid.UUID) -> DataExport:
    export = await session.scalar(own_exports(auth).where(DataExport.id == export_id))
    if export is None:
        raise NotFound("No such export.")
    return export


async def request_export(
    session: AsyncSession,
    auth: Authenticated,
    *,
    kind: ExportKind,
    patient_id: uuid.UUID | None = None,
    ip: str | None = None,
) -> DataExport:
    """Queue an export (the same one already queued or running is answered instead)."""
    from kura.exports.tasks import build_export

    if kind is ExportKind.PATIENT:
        assert patient_id is not None
        # The owner exports restricted records too (they are kept for exactly this).
        owner = auth.user.role == Role.OWNER
        patient = await get_readable(session, auth, patient_id, include_restricted=owner)
        patient_id = patient.id
    pending = await session.scalar(
        own_exports(auth).where(
            DataExport.kind == kind,
            DataExport.patient_id.is_(None)
            if patient_id is None
            else DataExport.patient_id == patient_id,
            DataExport.status.in_(IN_FLIGHT),
        )
    )
    if pending is not None:
        return pending
    export = DataExport(
        organization_id=auth.user.organization_id,
        requested_by_id=auth.user.id,
        kind=kind,
        patient_id=patient_id,
        status=ExportStatus.QUEUED,
        progress=0,
    )
    session.add(export)
    await session.flush()
    await _audit(session, export, AuditAction.EXPORT_REQUESTED, actor_id=auth.user.id, ip=ip)
    await defer_in_transaction(session, build_export, export_id=str(export.id))
    return export


async def _audit(
    session: AsyncSession,
    export: DataExport,
    action: AuditAction,
    *,
    actor_id: uuid.UUID | None,
    ip: str | None = None,
    **details: Any,
) -> None:
    base: dict[str, Any] = {"kind": export.kind.value}
    if export.patient_id is not None:
        base["patient_id"] = str(export.patient_id)
    await record(
        session,
        action,
        organization_id=export.organization_id,
        actor_id=actor_id,
        target_type="export",
        target_id=export.id,
        ip=ip,
        details={**base, **details},
    )


async def open_download(
    session: AsyncSession,
    auth: Authenticated,
    settings: Settings,
    export_id: uuid.UUID,
    *,
    ip: str | None,
) -> tuple[DataExport, BlobStore, str]:
    """The caller's READY, unexpired export and where its file is; audited."""
    export = await get_own(session, auth, export_id)
    if export.status is ExportStatus.EXPIRED or (
        export.expires_at is not None and export.expires_at <= utcnow()
    ):
        raise Gone(GONE_MESSAGE)
    if export.status is not ExportStatus.READY:
        raise Conflict(f"The export is not ready yet (status {export.status.value}).")
    store = export_store(settings)
    name = valid_blob_name(export.blob_name)
    if not await store.list(name):
        raise Gone(GONE_MESSAGE)
    await _audit(session, export, AuditAction.EXPORT_DOWNLOADED, actor_id=auth.user.id, ip=ip)
    return export, store, name


def download_filename(export: DataExport) -> str:
    """ASCII only, from the kind, the date and the id: never a patient's name."""
    stamp = (export.completed_at or export.created_at).strftime("%Y%m%d")
    return f"kura-{export.kind.value}-export-{stamp}-{export.id.hex[:8]}.zip"


# -- the job ------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Job:
    id: uuid.UUID
    kind: ExportKind
    organization_id: uuid.UUID
    patient_id: uuid.UUID | None
    requested_by_id: uuid.UUID | None


async def run_export(database: Database, settings: Settings, export_id: uuid.UUID) -> ExportStatus:
    """Build the export's ZIP into the store; READY, or FAILED with a message safe to show.
    Idempotent: a finished export is left alone, a half-built one is rebuilt from the start."""
    async with database.sessionmaker() as session, session.begin():
        export = await session.get(DataExport, export_id, with_for_update=True)
        if export is None:
            return ExportStatus.FAILED
        if export.status not in IN_FLIGHT:
            return export.status
        export.status, export.progress = ExportStatus.RUNNING, 0
        job = _Job(
            export.id,
            export.kind,
            export.organization_id,
            export.patient_id,
            export.requested_by_id,
        )
    store = export_store(settings)
    name = blob_name(job.id)
    try:
        counts, size = await _build(database, store, name, job)
    except _RecordGone:
        return await _fail(database, job, "The record no longer exists.", "record_gone")
    except Exception as exc:  # the client sees a safe sentence; the log has the type only
        log.error("export.failed", export_id=str(job.id), error_type=type(exc).__name__)
        return await _fail(database, job, FAILED_MESSAGE, type(exc).__name__)
    now = utcnow()
    async with database.sessionmaker() as session, session.begin():
        export = await session.get_one(DataExport, job.id)
        export.status, export.progress, export.blob_name = ExportStatus.READY, 100, name
        export.size_bytes, export.completed_at, export.error = size, now, None
        export.expires_at = now + timedelta(days=settings.export_retention_days)
        await _audit(
            session,
            export,
            AuditAction.EXPORT_COMPLETED,
            actor_id=job.requested_by_id,
            counts=counts,
            size_bytes=size,
        )
    log.info("export.ready", export_id=str(job.id), size_bytes=size)
    return ExportStatus.READY


class _RecordGone(Exception):
    pass


async def _fail(database: Database, job: _Job, message: str, reason: str) -> ExportStatus:
    async with database.sessionmaker() as session, session.begin():
        export = await session.get_one(DataExport, job.id)
        export.status, export.error = ExportStatus.FAILED, message
        await _audit(
            session, export, AuditAction.EXPORT_FAILED, actor_id=job.requested_by_id, reason=reason
        )
    return ExportStatus.FAILED


async def _set_progress(database: Database, export_id: uuid.UUID, percent: int) -> None:
    async with database.sessionmaker() as session, session.begin():
        await session.execute(
            update(DataExport).where(DataExport.id == export_id).values(progress=percent)
        )


async def _build(
    database: Database, store: BlobStore, name: str, job: _Job
) -> tuple[dict[str, Any], int]:
    generated_at = utcnow()
    async with store.upload(name) as sink, database.sessionmaker() as session, session.begin():
        archive = ExportArchive(sink)
        try:
            return await _write_archive(database, session, archive, job, generated_at)
        except BaseException:
            await asyncio.to_thread(archive.abandon)
            raise


async def _write_archive(
    database: Database,
    session: AsyncSession,
    archive: ExportArchive,
    job: _Job,
    generated_at: datetime,
) -> tuple[dict[str, Any], int]:
    writer = builder.PartWriter(archive)
    counts: dict[str, Any]
    if job.kind is ExportKind.PATIENT:
        patient = None
        if job.patient_id is not None:
            patient = await session.scalar(
                select(Patient).where(
                    Patient.organization_id == job.organization_id, Patient.id == job.patient_id
                )
            )
        if patient is None:
            raise _RecordGone
        counts = await builder.write_record(
            writer,
            session,
            patient,
            prefix="",
            include_private=False,
            generated_at=generated_at,
            progress=functools.partial(_set_progress, database, job.id),
        )
    else:
        counts = await _build_practice(database, session, writer, job, generated_at)
    body = builder.manifest(
        kind=job.kind.value,
        export_id=job.id,
        organization_id=job.organization_id,
        generated_at=generated_at,
        counts=counts,
        files=archive.files,
        include_private=job.kind is ExportKind.PRACTICE,
    )
    await writer.put("manifest.json", body)
    size = await asyncio.to_thread(archive.finish)
    return counts, size


async def _build_practice(
    database: Database,
    session: AsyncSession,
    writer: builder.PartWriter,
    job: _Job,
    generated_at: datetime,
) -> dict[str, Any]:
    total = await session.scalar(
        select(func.count(Patient.id)).where(Patient.organization_id == job.organization_id)
    )
    counts: dict[str, Any] = {
        "practice": await builder.write_practice_parts(writer, session, job.organization_id)
    }
    totals = dict.fromkeys(builder.PATIENT_PARTS, 0)
    per_patient: dict[str, dict[str, int]] = {}
    async for page in builder.practice_patients(session, job.organization_id):
        for patient in page:
            found = await builder.write_record(
                writer,
                session,
                patient,
                prefix=f"patients/{patient.id}/",
                include_private=True,
                generated_at=generated_at,
            )
            per_patient[str(patient.id)] = found
            for part in builder.PATIENT_PARTS:
                totals[part] += found[part]
        await _set_progress(database, job.id, min(99, len(per_patient) * 100 // max(1, total or 1)))
    counts["patients"] = len(per_patient)
    counts["totals"] = totals
    counts["per_patient"] = per_patient
    return counts


# -- expiry -------------------------------------------------------------------------------


async def expire_exports(database: Database, settings: Settings, now: datetime) -> int:
    """Delete the files of exports past their expiry and mark them EXPIRED; how many."""
    store = export_store(settings)
    expired = 0
    while True:
        async with database.sessionmaker() as session, session.begin():
            due = list(
                await session.scalars(
                    select(DataExport)
                    .where(DataExport.status == ExportStatus.READY, DataExport.expires_at <= now)
                    .order_by(DataExport.expires_at)
                    .limit(100)
                    .with_for_update(skip_locked=True)
                )
            )
            for export in due:
                # Nothing (valid) to delete: the row expires all the same.
                with contextlib.suppress(ValueError, BlobNotFound):
                    await store.delete(valid_blob_name(export.blob_name))
                export.status = ExportStatus.EXPIRED
                await _audit(session, export, AuditAction.EXPORT_EXPIRED, actor_id=None)
        expired += len(due)
        if len(due) < 100:
            return expired
