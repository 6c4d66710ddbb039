"""A patient's record exported from the chart: queued with CSRF, the list refreshing while the
job builds it, the ZIP downloaded (audited); what an assistant, a colleague and another
practice cannot do."""

from __future__ import annotations

import io
import zipfile

from httpx import AsyncClient
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from kura.audit.models import AuditEvent
from kura.config import Settings
from kura.db.engine import Database
from kura.users.models import Role
from tests.factories import Member, make_owner, make_patient, make_staff
from tests.test_exports import run_queued_exports
from tests.workspace_support import hidden, sign_in


async def _audited(session: AsyncSession, action: str, member: Member) -> int:
    count = await session.scalar(
        select(func.count())
        .select_from(AuditEvent)
        .where(AuditEvent.action == action, AuditEvent.actor_id == member.user.id)
    )
    return int(count or 0)


async def test_a_therapist_exports_a_record_from_the_chart_and_downloads_it(
    client: AsyncClient,
    owner: Member,
    session: AsyncSession,
    database: Database,
    settings: Settings,
) -> None:
    therapist = await make_staff(session, settings, owner.organization, Role.THERAPIST)
    patient = await make_patient(session, owner.organization, full_name="Lucía Exportada")
    await session.commit()
    await sign_in(client, therapist.user.email)
    chart = await client.get(f"/app/patients/{patient.id}")
    assert f'action="/app/patients/{patient.id}/export"' in chart.text
    csrf = hidden(chart.text, "csrf_token")

    forged = await client.post(f"/app/patients/{patient.id}/export", data={"csrf_token": "x"})
    assert forged.status_code == 403
    queued = await client.post(f"/app/patients/{patient.id}/export", data={"csrf_token": csrf})
    assert queued.status_code == 303 and queued.headers["location"] == "/app/exports"
    again = await client.post(f"/app/patients/{patient.id}/export", data={"csrf_token": csrf})
    assert again.status_code == 303  # the one already queued is answered, not a second
    waiting = await client.get("/app/exports")
    assert waiting.status_code == 200 and "Lucía Exportada" in waiting.text
    assert "En cola" in waiting.text and 'http-equiv="refresh"' in waiting.text
    assert "/download" not in waiting.text

    assert await run_queued_exports(database, settings) == ["READY"]
    ready = await client.get("/app/exports")
    assert "Lista" in ready.text and 'http-equiv="refresh"' not in ready.text
    link = f"/app/exports/{ready.text.split('/app/exports/')[1].split('/download')[0]}/download"
    got = await client.get(link)
    assert got.status_code == 200 and got.headers["content-type"] == "application/zip"
    assert "Lucía" not in got.headers["content-disposition"]  # never a patient's name
    assert got.headers["cache-control"] == "no-store"
    with zipfile.ZipFile(io.BytesIO(got.content)) as archive:
        assert any(name.endswith(".pdf") for name in archive.namelist())
    assert await _audited(session, "export.requested", therapist) == 1
    assert await _audited(session, "export.downloaded", therapist) == 1

    # The owner of the same practice does not see, nor download, the therapist's export.
    client.cookies.clear()
    await sign_in(client, owner.user.email)
    assert "Lucía Exportada" not in (await client.get("/app/exports")).text
    assert (await client.get(link)).status_code == 404


async def test_an_assistant_and_another_practice_cannot_export(
    client: AsyncClient, owner: Member, session: AsyncSession, settings: Settings
) -> None:
    assistant = await make_staff(session, settings, owner.organization, Role.ASSISTANT)
    stranger = await make_owner(session, settings)
    patient = await make_patient(session, owner.organization)
    await session.commit()
    await sign_in(client, assistant.user.email)
    page = await client.get(f"/app/patients/{patient.id}")
    assert "/export" not in page.text
    csrf = hidden(page.text, "csrf_token")
    refused = await client.post(f"/app/patients/{patient.id}/export", data={"csrf_token": csrf})
    assert refused.status_code == 403

    client.cookies.clear()
    await sign_in(client, stranger.user.email)
    csrf = hidden((await client.get("/app/exports")).text, "csrf_token")
    missing = await client.post(f"/app/patients/{patient.id}/export", data={"csrf_token": csrf})
    assert missing.status_code == 404
    assert await _audited(session, "export.requested", stranger) == 0
