"""Reading a record in keyset pages and writing it part by part into the export's ZIP.

Rows are read PAGE rows at a time (keyset on the part's order, the session emptied between
pages) and encoded into a small buffer flushed to the archive from a worker thread: memory
depends on the page, never on the size of the record.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import Select, false, inspect, or_, select, true, tuple_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from kura.audit.models import AuditEvent
from kura.bookings.models import Booking, Service
from kura.clinical.models import ClinicalNote, NoteVersion
from kura.exports.archive import FORMAT_VERSION, ExportArchive, encode
from kura.exports.pdf import LATIN1_NOTE, RecordPdf
from kura.invoices.models import Invoice
from kura.monitoring.models import DailyConversationAnalysis, MessageLog, RiskAlert
from kura.orgs.models import Organization
from kura.patients.models import Patient
from kura.payments.models import Payment
from kura.users.models import User

PAGE = 500
FLUSH_BYTES = 256 * 1024
PATIENT_PARTS = (
    "patient",
    "notes",
    "bookings",
    "payments",
    "invoices",
    "messages",
    "analyses",
    "risk_alerts",
    "audit",
)
PRIVATE_EXCLUDED = (
    "Private notes (the professional's subjective annotations) are not part of a patient's "
    "export: Ley 41/2002, art. 18.3."
)
PRIVATE_INCLUDED = "Private notes are included: this is the practice's own copy of its records."
# Staff and practice columns never exported: credentials and anything shaped like one.
_SECRET = re.compile(r"hash|secret|token|password|recovery|totp|mfa|google_sub|session_version")
# Per-booking secret (the manage link's hash): never in a file.
_BOOKING_EXCLUDED = frozenset({"manage_token_hash"})

Model = TypeVar("Model")
Progress = Callable[[int], Awaitable[None]]


def row_dict(obj: object, *, exclude: frozenset[str] = frozenset()) -> dict[str, Any]:
    """Every mapped column of a row, by attribute name."""
    mapper = inspect(type(obj))
    return {
        attr.key: getattr(obj, attr.key) for attr in mapper.column_attrs if attr.key not in exclude
    }


def _no_secrets(obj: object) -> dict[str, Any]:
    return {k: v for k, v in row_dict(obj).items() if not _SECRET.search(k)}


async def pages(
    session: AsyncSession,
    statement: Select[Model],
    order: Sequence[InstrumentedAttribute[Any]],
) -> AsyncIterator[list[Model]]:
    """The statement's rows PAGE at a time, in keyset order (the last column is unique)."""
    last: tuple[Any, ...] | None = None
    while True:
        page = statement.order_by(*order).limit(PAGE)
        if last is not None:
            page = page.where(tuple_(*order) > tuple_(*last))
        rows = list((await session.scalars(page)).unique())
        if not rows:
            return
        last = tuple(getattr(rows[-1], column.key) for column in order)
        full = len(rows) == PAGE
        yield rows
        # Emptied for the caller too: the page just written is not kept while the next loads
        # (holding both doubled the peak).
        rows.clear()
        session.expunge_all()
        if not full:
            return


class PartWriter:
    """Writes JSON arrays into the archive from a worker thread, FLUSH_BYTES at a time."""

    def __init__(self, archive: ExportArchive) -> None:
        self.archive = archive

    async def put(self, path: str, value: Any) -> None:
        await asyncio.to_thread(self.archive.put, path, encode(value) + b"\n")

    async def array(self, path: str, items: AsyncIterator[dict[str, Any]]) -> int:
        await asyncio.to_thread(self.archive.open, path)
        buffer, count = bytearray(b"["), 0
        async for item in items:
            buffer += b",\n" if count else b"\n"
            buffer += encode(item)
            count += 1
            if len(buffer) >= FLUSH_BYTES:
                await asyncio.to_thread(self.archive.write, bytes(buffer))
                buffer.clear()
        buffer += b"\n]\n"
        await asyncio.to_thread(self.archive.write, bytes(buffer))
        await asyncio.to_thread(self.archive.close_entry)
        return count


class RecordReader:
    """The statements of one patient's record, inside one organization."""

    def __init__(self, session: AsyncSession, patient: Patient, *, include_private: bool) -> None:
        self.session = session
        self.org_id = patient.organization_id
        self.patient_id = patient.id
        self.include_private = include_private

    async def notes(self) -> AsyncIterator[dict[str, Any]]:
        statement = select(ClinicalNote).where(
            ClinicalNote.organization_id == self.org_id,
            ClinicalNote.patient_id == self.patient_id,
            true() if self.include_private else ClinicalNote.is_private.is_(false()),
        )
        order = (ClinicalNote.created_at, ClinicalNote.id)
        async for rows in pages(self.session, statement, order):
            versions: dict[uuid.UUID, list[dict[str, Any]]] = {}
            found = await self.session.scalars(
                select(NoteVersion)
                .where(NoteVersion.note_id.in_([n.id for n in rows]))
                .order_by(NoteVersion.note_id, NoteVersion.version)
            )
            for version in found:
                versions.setdefault(version.note_id, []).append(row_dict(version))
            for note in rows:
                item = row_dict(note)
                item["addenda"] = [row_dict(a) for a in note.addenda]
                item["versions"] = versions.get(note.id, [])
                yield item
            versions.clear()

    async def _rows(
        self,
        statement: Select[Any],
        order: Sequence[InstrumentedAttribute[Any]],
        exclude: frozenset[str] = frozenset(),
    ) -> AsyncIterator[dict[str, Any]]:
        async for rows in pages(self.session, statement, order):
            for row in rows:
                yield row_dict(row, exclude=exclude)

    def bookings(self) -> AsyncIterator[dict[str, Any]]:
        statement = select(Booking).where(
            Booking.organization_id == self.org_id, Booking.patient_id == self.patient_id
        )
        return self._rows(statement, (Booking.starts_at, Booking.id), _BOOKING_EXCLUDED)

    def payments(self) -> AsyncIterator[dict[str, Any]]:
        bookings = select(Booking.id).where(
            Booking.organization_id == self.org_id, Booking.patient_id == self.patient_id
        )
        statement = select(Payment).where(
            Payment.organization_id == self.org_id, Payment.booking_id.in_(bookings)
        )
        return self._rows(statement, (Payment.created_at, Payment.id))

    def invoices(self) -> AsyncIterator[dict[str, Any]]:
        """The invoices issued for the payments above (the customer is the patient)."""
        bookings = select(Booking.id).where(
            Booking.organization_id == self.org_id, Booking.patient_id == self.patient_id
        )
        payments = select(Payment.id).where(Payment.booking_id.in_(bookings))
        statement = select(Invoice).where(
            Invoice.organization_id == self.org_id, Invoice.payment_id.in_(payments)
        )
        return self._rows(statement, (Invoice.issued_at, Invoice.id))

    def messages(self) -> AsyncIterator[dict[str, Any]]:
        statement = select(MessageLog).where(
            MessageLog.organization_id == self.org_id, MessageLog.patient_id == self.patient_id
        )
        return self._rows(statement, (MessageLog.created_at, MessageLog.id))

    def analyses(self) -> AsyncIterator[dict[str, Any]]:
        model = DailyConversationAnalysis
        statement = select(model).where(
            model.organization_id == self.org_id, model.patient_id == self.patient_id
        )
        return self._rows(statement, (model.day, model.id))

    def risk_alerts(self) -> AsyncIterator[dict[str, Any]]:
        statement = select(RiskAlert).where(
            RiskAlert.organization_id == self.org_id, RiskAlert.patient_id == self.patient_id
        )
        return self._rows(statement, (RiskAlert.created_at, RiskAlert.id))

    def audit(self) -> AsyncIterator[dict[str, Any]]:
        """Every audit row about this record: its own id as target, or named in details."""
        patient = str(self.patient_id)
        statement = select(AuditEvent).where(
            AuditEvent.organization_id == self.org_id,
            or_(
                AuditEvent.target_id == patient, AuditEvent.details["patient_id"].astext == patient
            ),
        )
        return self._rows(statement, (AuditEvent.id,))


async def write_record(
    writer: PartWriter,
    session: AsyncSession,
    patient: Patient,
    *,
    prefix: str,
    include_private: bool,
    generated_at: datetime,
    progress: Progress | None = None,
) -> dict[str, int]:
    """One patient's folder: a JSON file per part and the PDF; the count of each part.
    `progress` hears the percentage of parts written after each one."""
    reader = RecordReader(session, patient, include_private=include_private)
    details = row_dict(patient)
    await writer.put(f"{prefix}patient.json", details)
    counts = {"patient": 1}
    parts = {
        "notes": reader.notes,
        "bookings": reader.bookings,
        "payments": reader.payments,
        "invoices": reader.invoices,
        "messages": reader.messages,
        "analyses": reader.analyses,
        "risk_alerts": reader.risk_alerts,
        "audit": reader.audit,
    }
    steps = len(parts) + 2  # the patient, each part, the PDF
    for done, (part, rows) in enumerate(parts.items(), start=2):
        counts[part] = await writer.array(f"{prefix}{part}.json", rows())
        if progress is not None:
            await progress(done * 100 // steps)
    counts["pdf_volumes"] = await _write_pdf(
        writer, reader, details, prefix=prefix, generated_at=generated_at
    )
    return counts


async def _write_pdf(
    writer: PartWriter,
    reader: RecordReader,
    patient: dict[str, Any],
    *,
    prefix: str,
    generated_at: datetime,
) -> int:
    """record.pdf (and record-2.pdf, … for a long record): notes, then bookings."""
    volumes = 0

    def start() -> RecordPdf:
        title = f"Clinical record: {patient['full_name']}"
        subtitle = f"Patient {patient['id']} - generated {generated_at:%Y-%m-%d %H:%M} UTC"
        if volumes:
            subtitle += f" - volume {volumes + 1}"
        pdf = RecordPdf(title=title, subtitle=subtitle)
        if not volumes:
            pdf.section("Patient")
            pdf.fields({k: patient[k] for k in ("full_name", "email", "phone", "language")})
            pdf.fields(
                {"Restricted": patient["restricted_at"], "Retain until": patient["retain_until"]}
            )
            pdf.section("Notes")
        return pdf

    async def flush(pdf: RecordPdf) -> None:
        nonlocal volumes
        volumes += 1
        name = "record.pdf" if volumes == 1 else f"record-{volumes}.pdf"
        data = await asyncio.to_thread(pdf.output)
        await asyncio.to_thread(writer.archive.put, f"{prefix}{name}", data)

    pdf = start()
    async for note in reader.notes():
        if pdf.full:
            await flush(pdf)
            pdf = start()
            pdf.section("Notes (continued)")
        await asyncio.to_thread(pdf.note, note)
    pdf.section("Bookings")
    async for booking in reader.bookings():
        if pdf.full:
            await flush(pdf)
            pdf = start()
            pdf.section("Bookings (continued)")
        pdf.row(f"{booking['starts_at']:%Y-%m-%d %H:%M} UTC - {booking['status']}")
    await flush(pdf)
    return volumes


def manifest(
    *,
    kind: str,
    export_id: uuid.UUID,
    organization_id: uuid.UUID,
    generated_at: datetime,
    counts: dict[str, Any],
    files: dict[str, dict[str, Any]],
    include_private: bool,
) -> dict[str, Any]:
    return {
        "format_version": FORMAT_VERSION,
        "kind": kind,
        "export_id": export_id,
        "organization_id": organization_id,
        "generated_at": generated_at,
        "counts": counts,
        "files": files,
        "private_notes": PRIVATE_INCLUDED if include_private else PRIVATE_EXCLUDED,
        "pdf": LATIN1_NOTE,
        "encoding": "UTF-8 JSON; timestamps ISO 8601 in UTC; ids are UUIDs.",
    }


async def write_practice_parts(
    writer: PartWriter, session: AsyncSession, organization_id: uuid.UUID
) -> dict[str, int]:
    """practice/: its settings, its staff (no credentials) and its services."""
    organization = await session.get_one(Organization, organization_id)
    await writer.put("practice/settings.json", _no_secrets(organization))

    async def staff() -> AsyncIterator[dict[str, Any]]:
        statement = select(User).where(User.organization_id == organization_id)
        async for rows in pages(session, statement, (User.created_at, User.id)):
            for user in rows:
                yield _no_secrets(user)

    async def services() -> AsyncIterator[dict[str, Any]]:
        statement = select(Service).where(Service.organization_id == organization_id)
        async for rows in pages(session, statement, (Service.created_at, Service.id)):
            for service in rows:
                yield row_dict(service)

    return {
        "settings": 1,
        "staff": await writer.array("practice/staff.json", staff()),
        "services": await writer.array("practice/services.json", services()),
    }


async def practice_patients(
    session: AsyncSession, organization_id: uuid.UUID
) -> AsyncIterator[list[Patient]]:
    """Every patient of the practice, restricted ones included, a page at a time."""
    statement = select(Patient).where(Patient.organization_id == organization_id)
    async for rows in pages(session, statement, (Patient.id,)):
        yield rows
