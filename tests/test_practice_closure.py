"""Closing a practice: an export first, 30 days of grace, then the purge erases it all."""

from __future__ import annotations

from datetime import timedelta

from httpx import AsyncClient
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kura.audit.models import AuditEvent
from kura.auth.sessions import utcnow
from kura.config import Settings
from kura.orgs.closure import erase_closed_practices
from kura.orgs.models import Organization
from kura.patients.models import Patient
from kura.users.models import Role, User
from tests.factories import enrol_mfa, make_owner, make_patient, make_staff


async def test_the_purge_erases_a_practice_only_after_its_grace_period(
    client: AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    closing = await make_owner(session, settings)
    staying = await make_owner(session, settings)
    await make_staff(session, settings, closing.organization, Role.THERAPIST)
    for member in (closing, staying):
        await make_patient(session, member.organization)
    closing.organization.closure_requested_at = utcnow() - timedelta(days=31)
    closing.organization.closes_at = utcnow() + timedelta(hours=1)
    await session.flush()
    assert await erase_closed_practices(session, utcnow()) == ([], [])
    assert await session.get(Organization, closing.organization.id) is not None

    from kura.exports.models import DataExport, ExportKind, ExportStatus

    session.add(
        DataExport(
            organization_id=closing.organization.id,
            kind=ExportKind.PRACTICE,
            status=ExportStatus.READY,
            blob_name="export_closing.zip",
        )
    )
    closing.organization.closes_at = utcnow() - timedelta(minutes=1)
    await session.flush()
    audio, exports = await erase_closed_practices(session, utcnow())
    assert audio == []  # nobody there had a briefing with audio
    assert exports == ["export_closing.zip"]  # its files are deleted from the store after
    gone, other = closing.organization.id, staying.organization.id
    session.expire_all()
    assert await session.scalar(select(Organization).where(Organization.id == gone)) is None
    assert not list(await session.scalars(select(User).where(User.organization_id == gone)))
    assert not list(await session.scalars(select(Patient).where(Patient.organization_id == gone)))
    kept = list(await session.scalars(select(Patient).where(Patient.organization_id == other)))
    assert len(kept) == 1
    event = await session.scalar(
        select(AuditEvent).where(
            AuditEvent.action == "practice.erased", AuditEvent.organization_id == gone
        )
    )
    assert event is not None and event.details["patients"] == 1 and event.details["members"] == 2


async def test_closing_needs_a_fresh_export_the_typed_name_and_can_be_called_off(
    client: AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    from kura.exports.models import DataExport, ExportKind, ExportStatus

    owner = await make_owner(session, settings, org_name="Consulta Sol")
    therapist = await make_staff(session, settings, owner.organization, Role.THERAPIST)
    url = "/api/v1/practice/closure"
    body = {"confirm": "Consulta Sol"}
    assert (await client.post(url, headers=therapist.headers, json=body)).status_code == 403
    stale = await client.post(url, headers=owner.headers, json=body)
    assert stale.status_code == 403 and stale.json()["error"] == "step_up_required"
    await enrol_mfa(session, settings, owner)
    no_export = await client.post(url, headers=owner.headers, json=body)
    assert (
        no_export.status_code == 409 and "Export the practice first" in no_export.json()["detail"]
    )

    old = DataExport(
        organization_id=owner.organization.id,
        requested_by_id=owner.user.id,
        kind=ExportKind.PRACTICE,
        status=ExportStatus.READY,
        completed_at=utcnow() - timedelta(days=8),
    )
    session.add(old)
    await session.flush()
    assert (await client.post(url, headers=owner.headers, json=body)).status_code == 409
    old.completed_at = utcnow() - timedelta(hours=1)
    await session.flush()
    typo = await client.post(url, headers=owner.headers, json={"confirm": "Consulta"})
    assert typo.status_code == 400
    closing = await client.post(url, headers=owner.headers, json=body)
    assert closing.status_code == 200, closing.text
    assert closing.json()["closes_at"] is not None
    assert (await client.post(url, headers=owner.headers, json=body)).status_code == 409
    called_off = await client.delete(url, headers=owner.headers)
    assert called_off.status_code == 200 and called_off.json()["closes_at"] is None
    assert (await client.delete(url, headers=owner.headers)).status_code == 409
    actions = [
        e["action"]
        for e in (await client.get("/api/v1/audit?action=practice", headers=owner.headers)).json()[
            "items"
        ]
    ]
    assert actions == ["practice.closure_cancelled", "practice.closure_requested"]
