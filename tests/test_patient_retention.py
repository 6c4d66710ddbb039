"""Deleting a patient restricts the record; the daily purge erases it once retention ends.

Only the owner deletes; the record leaves lists and monitoring at once, stays for
record_retention_years after discharge, and the purge audits counts, never content.
"""

from __future__ import annotations

import uuid
from datetime import date, timedelta

from httpx import AsyncClient
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from kura.audit.models import AuditEvent
from kura.auth.sessions import utcnow
from kura.bookings.models import Booking, BookingStatus, Service
from kura.clinical.models import ClinicalNote
from kura.config import Settings
from kura.exports.models import DataExport, ExportKind, ExportStatus
from kura.monitoring.models import Direction, MessageLog, Routing
from kura.patients.models import Patient
from kura.patients.purge import erase_due_patients, purge_deleted_drafts
from kura.patients.retention import retention_end
from kura.registry import job_app
from kura.users.models import Role
from tests.factories import PASSWORD, Member, make_owner, make_patient, make_staff


async def _booking(session: AsyncSession, patient: Patient, starts_in: timedelta) -> Booking:
    service = Service(
        organization_id=patient.organization_id, name="Sesión", duration_minutes=50, price_cents=0
    )
    session.add(service)
    await session.flush()
    start = utcnow() + starts_in
    booking = Booking(
        organization_id=patient.organization_id,
        patient_id=patient.id,
        service_id=service.id,
        starts_at=start,
        ends_at=start + timedelta(minutes=50),
        status=BookingStatus.CONFIRMED,
        amount_cents=0,
        currency="eur",
    )
    session.add(booking)
    await session.flush()
    return booking


async def test_only_the_owner_deletes_and_the_record_leaves_every_route(
    client: AsyncClient, owner: Member, session: AsyncSession, settings: Settings
) -> None:
    therapist = await make_staff(session, settings, owner.organization, Role.THERAPIST)
    assistant = await make_staff(session, settings, owner.organization, Role.ASSISTANT)
    patient = await make_patient(session, owner.organization, full_name="Lucía Prieto")
    note = await client.post(
        f"/api/v1/patients/{patient.id}/notes", headers=therapist.headers, json={"content": "n"}
    )
    url = f"/api/v1/patients/{patient.id}"
    for member in (therapist, assistant):
        refused = await client.delete(url, headers=member.headers)
        assert refused.status_code == 403
        assert "owner" in refused.json()["detail"]
    assert (await client.delete(url, headers=owner.headers)).status_code == 204
    assert (await client.delete(url, headers=owner.headers)).status_code == 404

    search = await client.get("/api/v1/patients?q=lucia", headers=owner.headers)
    assert search.json()["total"] == 0
    for member in (therapist, assistant):
        assert (await client.get(url, headers=member.headers)).status_code == 404
    for attempt in (
        client.get(f"{url}/notes", headers=therapist.headers),
        client.get(f"/api/v1/notes/{note.json()['id']}", headers=therapist.headers),
        client.patch(url, headers=owner.headers, json={"full_name": "x"}),
    ):
        assert (await attempt).status_code == 404

    deleted = await client.get("/api/v1/patients?deleted=true", headers=owner.headers)
    assert [p["id"] for p in deleted.json()["items"]] == [str(patient.id)]
    assert (
        await client.get("/api/v1/patients?deleted=true", headers=therapist.headers)
    ).status_code == 403
    record = (await client.get(url, headers=owner.headers)).json()
    assert record["retain_until"] == str(retention_end(utcnow().date(), 5))
    # Nothing was erased: the note is still in the database.
    assert await session.scalar(select(func.count()).where(ClinicalNote.patient_id == patient.id))


async def test_discharge_date_is_checked_and_retention_follows_the_practice_setting(
    client: AsyncClient, owner: Member, session: AsyncSession
) -> None:
    patient = await make_patient(session, owner.organization)
    await _booking(session, patient, -timedelta(days=40))
    url = f"/api/v1/patients/{patient.id}/restrict"
    future = (utcnow().date() + timedelta(days=2)).isoformat()
    assert (
        await client.post(url, headers=owner.headers, json={"discharged_on": future})
    ).status_code == 400
    too_early = (utcnow().date() - timedelta(days=60)).isoformat()
    early = await client.post(url, headers=owner.headers, json={"discharged_on": too_early})
    assert early.status_code == 400
    assert "last note or session" in early.json()["detail"]

    assert (
        await client.patch(
            "/api/v1/practice/records", headers=owner.headers, json={"record_retention_years": 4}
        )
    ).status_code == 422
    changed = await client.patch(
        "/api/v1/practice/records", headers=owner.headers, json={"record_retention_years": 7}
    )
    assert changed.json()["record_retention_years"] == 7
    discharged = utcnow().date() - timedelta(days=10)
    done = await client.post(
        url, headers=owner.headers, json={"discharged_on": discharged.isoformat()}
    )
    assert done.status_code == 200
    assert done.json()["retain_until"] == str(retention_end(discharged, 7))


async def test_upcoming_bookings_must_be_cancelled_first(
    client: AsyncClient, owner: Member, session: AsyncSession
) -> None:
    patient = await make_patient(session, owner.organization)
    booking = await _booking(session, patient, timedelta(days=3))
    refused = await client.delete(f"/api/v1/patients/{patient.id}", headers=owner.headers)
    assert refused.status_code == 409
    assert "1 upcoming booking" in refused.json()["detail"]
    booking.status = BookingStatus.CANCELLED
    await session.flush()
    assert (
        await client.delete(f"/api/v1/patients/{patient.id}", headers=owner.headers)
    ).status_code == 204


async def test_monitoring_stops_and_message_texts_go_at_once(
    client: AsyncClient, owner: Member, session: AsyncSession
) -> None:
    patient = await make_patient(session, owner.organization, monitoring_consent=True)
    session.add(
        MessageLog(
            organization_id=owner.organization.id,
            patient_id=patient.id,
            direction=Direction.INBOUND,
            routing=Routing.ROUTED,
            from_number=patient.phone,
            to_number="+34911000000",
            body="Hoy me siento mejor",
        )
    )
    await session.flush()
    assert (
        await client.delete(f"/api/v1/patients/{patient.id}", headers=owner.headers)
    ).status_code == 204
    await session.refresh(patient)
    assert patient.monitoring_status == "withdrawn" and patient.monitoring_consent is False
    bodies = list(
        await session.scalars(select(MessageLog.body).where(MessageLog.patient_id == patient.id))
    )
    assert bodies == [None]  # the message row (metadata) stays with the record; its text does not


async def test_undelete_before_erasure(
    client: AsyncClient, owner: Member, session: AsyncSession, settings: Settings
) -> None:
    therapist = await make_staff(session, settings, owner.organization, Role.THERAPIST)
    patient = await make_patient(session, owner.organization)
    url = f"/api/v1/patients/{patient.id}"
    assert (await client.post(f"{url}/unrestrict", headers=owner.headers)).status_code == 409
    await client.delete(url, headers=owner.headers)
    assert (await client.post(f"{url}/unrestrict", headers=therapist.headers)).status_code == 403
    back = await client.post(f"{url}/unrestrict", headers=owner.headers)
    assert back.status_code == 200
    assert back.json()["restricted_at"] is None and back.json()["retain_until"] is None
    assert (await client.get(url, headers=therapist.headers)).status_code == 200


async def test_the_purge_erases_due_records_only_and_audits_counts(
    client: AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    owner = await make_owner(session, settings)
    due = await make_patient(session, owner.organization, full_name="Nombre Secreto")
    kept = await make_patient(session, owner.organization)
    active = await make_patient(session, owner.organization)
    for patient in (due, kept, active):
        await client.post(
            f"/api/v1/patients/{patient.id}/notes",
            headers=owner.headers,
            json={"content": "Texto clínico que no debe aparecer en la auditoría"},
        )
    for patient in (due, kept):
        assert (
            await client.delete(f"/api/v1/patients/{patient.id}", headers=owner.headers)
        ).status_code == 204
    await session.execute(
        update(Patient).where(Patient.id == due.id).values(retain_until=date(2020, 1, 1))
    )
    export = DataExport(
        organization_id=owner.organization.id,
        kind=ExportKind.PATIENT,
        patient_id=due.id,
        status=ExportStatus.READY,
        blob_name="export_due.zip",
        expires_at=utcnow() + timedelta(days=6),
    )
    session.add(export)
    await session.flush()
    assert await erase_due_patients(session, utcnow()) == 1
    await session.refresh(export)
    assert export.expires_at is not None and export.expires_at <= utcnow()  # file goes now
    remaining = set(
        await session.scalars(
            select(Patient.id).where(Patient.organization_id == owner.organization.id)
        )
    )
    assert remaining == {kept.id, active.id}
    assert not await session.scalar(select(func.count()).where(ClinicalNote.patient_id == due.id))
    event = await session.scalar(
        select(AuditEvent).where(
            AuditEvent.action == "patient.erased", AuditEvent.target_id == str(due.id)
        )
    )
    assert event is not None and event.details["notes"] == 1
    assert "Secreto" not in str(event.details) and "clínico" not in str(event.details)
    assert await erase_due_patients(session, utcnow()) == 0


async def test_the_purge_removes_drafts_deleted_over_30_days_ago(
    client: AsyncClient, owner: Member, session: AsyncSession
) -> None:
    patient = await make_patient(session, owner.organization)
    ids = []
    for _ in range(2):
        note = await client.post(
            f"/api/v1/patients/{patient.id}/notes", headers=owner.headers, json={"content": "b"}
        )
        ids.append(uuid.UUID(note.json()["id"]))
        await client.delete(f"/api/v1/notes/{ids[-1]}", headers=owner.headers)
    await session.execute(
        update(ClinicalNote)
        .where(ClinicalNote.id == ids[0])
        .values(deleted_at=utcnow() - timedelta(days=31))
    )
    assert await purge_deleted_drafts(session, utcnow()) == 1
    assert set(
        await session.scalars(select(ClinicalNote.id).where(ClinicalNote.patient_id == patient.id))
    ) == {ids[1]}
    purged = await session.scalar(
        select(AuditEvent.details).where(
            AuditEvent.action == "note.drafts_purged",
            AuditEvent.organization_id == owner.organization.id,
        )
    )
    assert purged == {"drafts": 1}


def test_the_purge_runs_daily() -> None:
    task = job_app.tasks["patients:purge_records"]
    periodic = [p for p in job_app.periodic_registry.periodic_tasks.values() if p.task is task]
    assert [p.cron for p in periodic] == ["23 3 * * *"]


def test_retention_from_29_february_is_never_a_day_short() -> None:
    assert retention_end(date(2024, 2, 29), 5) == date(2029, 3, 1)
    assert retention_end(date(2024, 3, 1), 5) == date(2029, 3, 1)


async def test_the_last_member_cannot_erase_the_practices_records_with_their_account(
    client: AsyncClient, owner: Member, session: AsyncSession
) -> None:
    patient = await make_patient(session, owner.organization)
    await client.post(
        f"/api/v1/patients/{patient.id}/notes", headers=owner.headers, json={"content": "n"}
    )
    await client.delete(f"/api/v1/patients/{patient.id}", headers=owner.headers)  # restricted
    refused = await client.request(
        "DELETE", "/api/v1/auth/me", headers=owner.headers, json={"password": PASSWORD}
    )
    assert refused.status_code == 409
    assert "1 patient record" in refused.json()["detail"]
    assert await session.get(Patient, patient.id) is not None
    assert (await client.get("/api/v1/auth/me", headers=owner.headers)).status_code == 200


async def test_contact_details_alone_do_not_hold_the_account_back(
    client: AsyncClient, owner: Member, session: AsyncSession
) -> None:
    await make_patient(session, owner.organization)  # no note, booking or alert
    gone = await client.request(
        "DELETE", "/api/v1/auth/me", headers=owner.headers, json={"password": PASSWORD}
    )
    assert gone.status_code == 204
