"""Patient and practice exports: the job runs for real, the ZIP is opened and counted."""

from __future__ import annotations

import hashlib
import io
import json
import re
import uuid
import zipfile
from datetime import date, timedelta
from typing import Any

from httpx import AsyncClient
from sqlalchemy import func, or_, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from kura.audit.models import AuditEvent
from kura.audit.service import AuditAction, record
from kura.auth.sessions import utcnow
from kura.bookings.models import Booking, BookingStatus, Service
from kura.clinical.models import ClinicalNote, NoteAddendum, NoteStatus, NoteVersion
from kura.config import Settings
from kura.db.engine import Database
from kura.exports.models import DataExport, ExportStatus
from kura.exports.pdf import RecordPdf
from kura.exports.service import expire_exports, run_export
from kura.invoices.models import Invoice
from kura.monitoring.models import (
    DailyConversationAnalysis,
    Direction,
    MessageLog,
    RiskAlert,
    Routing,
)
from kura.patients.models import Patient
from kura.payments.models import Payment, PaymentKind, PaymentStatus
from kura.pdf_text import latin1
from kura.users.models import Role
from tests.factories import Member, enrol_mfa, make_owner, make_patient, make_staff

PARTS = (
    "patient",
    "notes",
    "bookings",
    "payments",
    "invoices",
    "messages",
    "analyses",
    "risk_alerts",
)


async def seed_record(session: AsyncSession, owner: Member, patient: Patient) -> dict[str, int]:
    """A record with every kind of row; how many of each a patient export must hold."""
    org = owner.organization.id
    now = utcnow()
    notes = []
    for n in range(3):
        note = ClinicalNote(
            organization_id=org,
            patient_id=patient.id,
            content=f"Sesión {n}: ánimo estable — “bien” 🙂",
            created_by_id=owner.user.id,
        )
        notes.append(note)
    notes[0].status, notes[0].signed_at, notes[0].signed_by_id = (
        NoteStatus.SIGNED,
        now,
        owner.user.id,
    )
    notes[0].struck_at, notes[0].strike_reason = now, "Paciente equivocado"
    private = ClinicalNote(
        organization_id=org,
        patient_id=patient.id,
        content="Impresión subjetiva",
        is_private=True,
        created_by_id=owner.user.id,
    )
    session.add_all([*notes, private])
    await session.flush()
    session.add_all(
        [
            NoteAddendum(
                note_id=notes[0].id,
                organization_id=org,
                content="Aclaración",
                signed_by_name=owner.user.full_name,
            ),
            NoteVersion(
                note_id=notes[1].id,
                organization_id=org,
                version=1,
                type=notes[1].type,
                content="Primera versión",
                written_at=now - timedelta(days=2),
            ),
        ]
    )
    service = Service(organization_id=org, name="Sesión", duration_minutes=50, price_cents=6000)
    session.add(service)
    await session.flush()
    bookings = [
        Booking(
            organization_id=org,
            patient_id=patient.id,
            service_id=service.id,
            starts_at=now - timedelta(days=10 + d),
            ends_at=now - timedelta(days=10 + d) + timedelta(minutes=50),
            status=BookingStatus.COMPLETED,
            amount_cents=6000,
            currency="eur",
        )
        for d in range(2)
    ]
    session.add_all(bookings)
    await session.flush()
    payment = Payment(
        organization_id=org,
        booking_id=bookings[0].id,
        kind=PaymentKind.BOOKING,
        amount_cents=6000,
        currency="eur",
        status=PaymentStatus.SUCCEEDED,
    )
    session.add(payment)
    await session.flush()
    session.add(
        Invoice(
            organization_id=org,
            payment_id=payment.id,
            year=now.year,
            sequence=1,
            number=f"{now.year}-000001",
            vat_note="Exenta de IVA",
            customer_name=patient.full_name,
            description="Sesión",
            amount_cents=6000,
            currency="eur",
        )
    )
    message = MessageLog(
        organization_id=org,
        patient_id=patient.id,
        direction=Direction.INBOUND,
        routing=Routing.ROUTED,
        from_number=patient.phone or "",
        to_number="+34911000000",
        body="Hoy estoy mejor",
    )
    session.add(message)
    await session.flush()
    session.add_all(
        [
            DailyConversationAnalysis(
                organization_id=org,
                patient_id=patient.id,
                day=date.today(),
                summary="Estable",
                sentiment_score=0.2,
                emotional_state="calm",
                suggestion="Seguir",
                message_count=1,
                generation_method="test",
            ),
            RiskAlert(
                organization_id=org,
                patient_id=patient.id,
                message_id=message.id,
                source="screen",
                risk="HIGH",
            ),
        ]
    )
    await record(
        session,
        AuditAction.PATIENT_VIEWED,
        organization_id=org,
        actor_id=owner.user.id,
        target_type="patient",
        target_id=patient.id,
    )
    await session.flush()
    return {
        "patient": 1,
        "notes": 3,
        "bookings": 2,
        "payments": 1,
        "invoices": 1,
        "messages": 1,
        "analyses": 1,
        "risk_alerts": 1,
    }


async def audit_count(session: AsyncSession, patient: Patient) -> int:
    pid = str(patient.id)
    count = await session.scalar(
        select(func.count(AuditEvent.id)).where(
            AuditEvent.organization_id == patient.organization_id,
            or_(AuditEvent.target_id == pid, AuditEvent.details["patient_id"].astext == pid),
        )
    )
    return int(count or 0)


async def run_queued_exports(database: Database, settings: Settings) -> list[ExportStatus]:
    """The bodies of the queued export jobs, as the worker would run them."""
    async with database.sessionmaker() as session:
        ids = (
            await session.scalars(
                text(
                    "SELECT args->>'export_id' FROM procrastinate_jobs "
                    "WHERE task_name = 'exports:build_export' AND status = 'todo' ORDER BY id"
                )
            )
        ).all()
    return [await run_export(database, settings, uuid.UUID(i)) for i in ids]


async def download(client: AsyncClient, member: Member, export_id: str) -> zipfile.ZipFile:
    response = await client.get(f"/api/v1/exports/{export_id}/download", headers=member.headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/zip"
    disposition = response.headers["content-disposition"]
    assert disposition.startswith('attachment; filename="kura-') and disposition.isascii()
    return zipfile.ZipFile(io.BytesIO(response.content))


def load(archive: zipfile.ZipFile, name: str) -> Any:
    return json.loads(archive.read(name))


def pdf_pages(data: bytes) -> int:
    """Pages of a PDF from its page objects (fpdf2 writes them uncompressed)."""
    assert data.startswith(b"%PDF-") and data.rstrip().endswith(b"%%EOF")
    return len(re.findall(rb"/Type\s*/Page\b", data))


def check_manifest(archive: zipfile.ZipFile) -> dict[str, Any]:
    manifest: dict[str, Any] = load(archive, "manifest.json")
    assert manifest["format_version"] == 1
    for name, entry in manifest["files"].items():
        assert hashlib.sha256(archive.read(name)).hexdigest() == entry["sha256"], name
    assert set(archive.namelist()) == {*manifest["files"], "manifest.json"}
    return manifest


async def test_a_patient_export_holds_every_part_with_matching_counts(
    client: AsyncClient,
    owner: Member,
    session: AsyncSession,
    database: Database,
    settings: Settings,
) -> None:
    therapist = await make_staff(session, settings, owner.organization, Role.THERAPIST)
    patient = await make_patient(session, owner.organization)
    expected = await seed_record(session, owner, patient)

    started = await client.post(f"/api/v1/patients/{patient.id}/export", headers=therapist.headers)
    assert started.status_code == 202, started.text
    body = started.json()
    assert (body["kind"], body["status"], body["progress"]) == ("patient", "QUEUED", 0)
    again = await client.post(f"/api/v1/patients/{patient.id}/export", headers=therapist.headers)
    assert again.json()["id"] == body["id"]  # the same export, not a second job
    expected["audit"] = await audit_count(session, patient)

    assert await run_queued_exports(database, settings) == [ExportStatus.READY]
    ready = (await client.get(f"/api/v1/exports/{body['id']}", headers=therapist.headers)).json()
    assert ready["status"] == "READY" and ready["progress"] == 100
    assert ready["expires_at"] is not None

    archive = await download(client, therapist, body["id"])
    manifest = check_manifest(archive)
    assert {k: manifest["counts"][k] for k in expected} == expected
    assert "18.3" in manifest["private_notes"]
    for part in (*PARTS, "audit"):
        name = f"{part}.json"
        assert name in archive.namelist()
        if part != "patient":
            assert len(load(archive, name)) == expected[part], part
    notes = load(archive, "notes.json")
    assert all(not n["is_private"] for n in notes)  # Ley 41/2002, art. 18.3
    assert "Impresión subjetiva" not in archive.read("notes.json").decode()
    struck = next(n for n in notes if n["addenda"])
    assert struck["strike_reason"] == "Paciente equivocado" and struck["signed_at"]
    assert sum(len(n["versions"]) for n in notes) == 1
    assert "🙂" in notes[0]["content"]  # JSON keeps every character
    assert pdf_pages(archive.read("record.pdf")) >= 1
    assert manifest["counts"]["pdf_volumes"] == 1

    actions = set(
        await session.scalars(select(AuditEvent.action).where(AuditEvent.target_id == body["id"]))
    )
    assert {"export.requested", "export.completed", "export.downloaded"} <= actions
    completed = await session.scalar(
        select(AuditEvent.details).where(
            AuditEvent.target_id == body["id"], AuditEvent.action == "export.completed"
        )
    )
    assert completed is not None and completed["counts"]["notes"] == 3
    assert "Sesión" not in json.dumps(completed)  # counts, never content


async def test_a_practice_export_has_every_patient_and_private_notes(
    client: AsyncClient,
    owner: Member,
    session: AsyncSession,
    database: Database,
    settings: Settings,
) -> None:
    patient = await make_patient(session, owner.organization)
    expected = await seed_record(session, owner, patient)
    restricted = await make_patient(session, owner.organization, restricted_at=utcnow())
    expected["audit"] = await audit_count(session, patient)
    for role in (Role.THERAPIST, Role.ASSISTANT):
        member = await make_staff(session, settings, owner.organization, role)
        denied = await client.post("/api/v1/practice/export", headers=member.headers)
        assert denied.status_code == 403, role

    stale = await client.post("/api/v1/practice/export", headers=owner.headers)
    assert stale.status_code == 403 and stale.json()["error"] == "step_up_required"
    await enrol_mfa(session, settings, owner)  # a code passed on this session just now
    started = await client.post("/api/v1/practice/export", headers=owner.headers)
    assert started.status_code == 202
    assert await run_queued_exports(database, settings) == [ExportStatus.READY]
    archive = await download(client, owner, started.json()["id"])
    manifest = check_manifest(archive)
    assert "included" in manifest["private_notes"]
    assert manifest["counts"]["patients"] == 2
    folder = f"patients/{patient.id}/"
    notes = load(archive, f"{folder}notes.json")
    assert len(notes) == expected["notes"] + 1 and any(n["is_private"] for n in notes)
    for part in (*PARTS[1:], "audit"):
        if part != "notes":
            assert len(load(archive, f"{folder}{part}.json")) == expected[part], part
    counted = manifest["counts"]["per_patient"][str(patient.id)]
    assert {k: counted[k] for k in expected} == {**expected, "notes": expected["notes"] + 1}
    assert load(archive, f"patients/{restricted.id}/patient.json")["restricted_at"]
    assert pdf_pages(archive.read(f"{folder}record.pdf")) >= 1
    assert pdf_pages(archive.read(f"patients/{restricted.id}/record.pdf")) >= 1
    staff = load(archive, "practice/staff.json")
    assert len(staff) == 3
    assert not any("password" in key or "hash" in key for s in staff for key in s)
    assert len(load(archive, "practice/services.json")) == 1
    assert load(archive, "practice/settings.json")["id"] == str(owner.organization.id)


async def test_roles_requester_only_and_tenants(
    client: AsyncClient,
    owner: Member,
    session: AsyncSession,
    database: Database,
    settings: Settings,
) -> None:
    patient = await make_patient(session, owner.organization)
    assistant = await make_staff(session, settings, owner.organization, Role.ASSISTANT)
    therapist = await make_staff(session, settings, owner.organization, Role.THERAPIST)
    other = await make_owner(session, settings)
    url = f"/api/v1/patients/{patient.id}/export"
    assert (await client.post(url, headers=assistant.headers)).status_code == 403
    assert (await client.post(url, headers=other.headers)).status_code == 404
    assert (
        await client.post(f"/api/v1/patients/{uuid.uuid4()}/export", headers=owner.headers)
    ).status_code == 404
    export_id = (await client.post(url, headers=owner.headers)).json()["id"]
    early = await client.get(f"/api/v1/exports/{export_id}/download", headers=owner.headers)
    assert early.status_code == 409
    await run_queued_exports(database, settings)
    for intruder in (therapist, assistant, other):
        for path in ("", "/download"):
            got = await client.get(f"/api/v1/exports/{export_id}{path}", headers=intruder.headers)
            assert got.status_code == 404, (intruder.user.role, path)
        listed = await client.get("/api/v1/exports", headers=intruder.headers)
        assert listed.json()["total"] == 0
    mine = (await client.get("/api/v1/exports", headers=owner.headers)).json()
    assert mine["total"] == 1 and mine["items"][0]["id"] == export_id
    assert set(mine) == {"items", "total", "page", "page_size"}


async def test_the_owner_exports_a_restricted_patient_a_therapist_cannot(
    client: AsyncClient, owner: Member, session: AsyncSession, settings: Settings
) -> None:
    patient = await make_patient(session, owner.organization, restricted_at=utcnow())
    therapist = await make_staff(session, settings, owner.organization, Role.THERAPIST)
    url = f"/api/v1/patients/{patient.id}/export"
    assert (await client.post(url, headers=therapist.headers)).status_code == 404
    assert (await client.post(url, headers=owner.headers)).status_code == 202


async def test_expired_exports_answer_410_and_are_cleaned_up(
    client: AsyncClient,
    owner: Member,
    session: AsyncSession,
    database: Database,
    settings: Settings,
) -> None:
    patient = await make_patient(session, owner.organization)
    export_id = (
        await client.post(f"/api/v1/patients/{patient.id}/export", headers=owner.headers)
    ).json()["id"]
    await run_queued_exports(database, settings)
    export = await session.get_one(DataExport, uuid.UUID(export_id))
    stored = settings.kura_data_dir / "exports" / str(export.blob_name)
    assert stored.is_file() and oct(stored.stat().st_mode & 0o777) == "0o600"
    past = utcnow() - timedelta(minutes=1)
    await session.execute(
        update(DataExport).where(DataExport.id == export.id).values(expires_at=past)
    )
    gone = await client.get(f"/api/v1/exports/{export_id}/download", headers=owner.headers)
    assert gone.status_code == 410 and gone.json()["error"] == "gone"
    assert await expire_exports(database, settings, utcnow()) == 1
    assert not stored.exists()
    await session.refresh(export)
    assert export.status is ExportStatus.EXPIRED
    again = await client.get(f"/api/v1/exports/{export_id}/download", headers=owner.headers)
    assert again.status_code == 410


async def test_a_failed_build_is_failed_with_a_safe_message(
    client: AsyncClient,
    owner: Member,
    session: AsyncSession,
    database: Database,
    settings: Settings,
) -> None:
    patient = await make_patient(session, owner.organization)
    export_id = (
        await client.post(f"/api/v1/patients/{patient.id}/export", headers=owner.headers)
    ).json()["id"]
    # The record erased between the request and the job: the export fails, politely.
    await session.execute(
        update(DataExport).where(DataExport.id == uuid.UUID(export_id)).values(patient_id=None)
    )
    assert await run_queued_exports(database, settings) == [ExportStatus.FAILED]
    failed = (await client.get(f"/api/v1/exports/{export_id}", headers=owner.headers)).json()
    assert failed["status"] == "FAILED" and failed["error"]
    action = await session.scalar(
        select(AuditEvent.action).where(
            AuditEvent.target_id == export_id, AuditEvent.action == "export.failed"
        )
    )
    assert action == "export.failed"
    download = await client.get(f"/api/v1/exports/{export_id}/download", headers=owner.headers)
    assert download.status_code == 409


def test_the_pdf_text_is_made_latin1_deliberately() -> None:
    assert latin1("Núñez — “bien” … 60 € 🙂 Ελένη") == 'Núñez - "bien" ... 60 EUR ? ?????'
    pdf = RecordPdf(title="Registro: Núñez 🙂", subtitle="—")
    pdf.note(
        {
            "type": "SESSION_NOTE",
            "status": "SIGNED",
            "created_at": utcnow(),
            "signed_at": utcnow(),
            "signed_by_id": uuid.uuid4(),
            "struck_at": None,
            "content": "Ánimo “estable” — 🙂 " * 50,
            "addenda": [{"created_at": utcnow(), "signed_by_name": "Lucía", "content": "ok"}],
            "versions": [],
        }
    )
    assert pdf_pages(pdf.output()) >= 1
    text = latin1("Ánimo “estable” — " * 40 + "x" * 300 + "\nfin")
    lines = pdf.wrap(text)
    room = pdf._pdf.epw - 2 * pdf._pdf.c_margin
    assert all(pdf._pdf.get_string_width(line) <= room + 1e-6 for line in lines)
    assert "".join(lines).replace(" ", "") == text.replace(" ", "").replace("\n", "")
