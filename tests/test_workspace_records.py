"""The owner deletes a patient from the chart (the record restricted from a discharge date,
out of the lists, kept for its retention) and undoes it; refusals shown beside the form;
nobody else can."""

from __future__ import annotations

from datetime import timedelta

from httpx import AsyncClient
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kura.audit.models import AuditEvent
from kura.briefings.content import local_today
from kura.config import Settings
from kura.db.base import utcnow
from kura.users.models import Role
from tests.factories import Member, make_patient, make_staff
from tests.test_workspace_agenda import _service
from tests.workspace_support import hidden, sign_in


async def test_the_owner_deletes_a_patient_and_undoes_it(
    client: AsyncClient, owner: Member, session: AsyncSession
) -> None:
    service = await _service(session, owner)
    patient = await make_patient(session, owner.organization, full_name="Rocío Baja")
    await session.commit()
    await sign_in(client, owner.user.email)
    chart_path = f"/app/patients/{patient.id}"
    chart = await client.get(chart_path)
    assert f'action="{chart_path}/delete"' in chart.text
    csrf = hidden(chart.text, "csrf_token")
    today = local_today(owner.organization.timezone, utcnow())
    booked = await client.post(
        f"{chart_path}/bookings",
        data={
            "csrf_token": csrf,
            "service_id": str(service.id),
            "therapist_id": str(owner.user.id),
            "date": (today + timedelta(days=9)).isoformat(),
            "time": "10:00",
        },
    )
    assert booked.status_code == 303, booked.text

    unconfirmed = await client.post(f"{chart_path}/delete", data={"csrf_token": csrf})
    assert unconfirmed.status_code == 400 and "Marca la casilla" in unconfirmed.text
    form = {"csrf_token": csrf, "confirm": "on", "discharged_on": today.isoformat()}
    busy = await client.post(f"{chart_path}/delete", data=form)
    assert busy.status_code == 409 and 'id="record-error"' in busy.text
    assert "Primero cancela las citas próximas de este paciente (1)." in busy.text
    future = {**form, "discharged_on": (today + timedelta(days=3)).isoformat()}
    refused = await client.post(f"{chart_path}/delete", data=future)
    assert refused.status_code == 400 and "La fecha de alta no puede ser futura." in refused.text
    await session.refresh(patient)
    assert patient.restricted_at is None  # every refusal left the record as it was

    cancelled = await client.post(f"{booked.headers['location']}/cancel", data={"csrf_token": csrf})
    assert cancelled.status_code == 303
    deleted = await client.post(f"{chart_path}/delete", data=form)
    assert deleted.status_code == 303
    await session.refresh(patient)
    assert patient.restricted_at is not None and patient.discharged_on == today
    shown = await client.get(chart_path)
    assert "Dado de baja" in shown.text and f'action="{chart_path}/undelete"' in shown.text
    assert "Rocío Baja" not in (await client.get("/app/patients")).text  # out of the lists

    back = await client.post(f"{chart_path}/undelete", data={"csrf_token": csrf})
    assert back.status_code == 303
    assert "Rocío Baja" in (await client.get("/app/patients")).text
    actions = set(
        await session.scalars(
            select(AuditEvent.action).where(AuditEvent.target_id == str(patient.id))
        )
    )
    assert {"patient.restricted", "patient.restriction_lifted"} <= actions


async def test_only_the_owner_deletes_patients(
    client: AsyncClient, owner: Member, session: AsyncSession, settings: Settings
) -> None:
    therapist = await make_staff(session, settings, owner.organization, Role.THERAPIST)
    patient = await make_patient(session, owner.organization)
    await session.commit()
    await sign_in(client, therapist.user.email)
    chart = await client.get(f"/app/patients/{patient.id}")
    assert "/delete" not in chart.text
    refused = await client.post(
        f"/app/patients/{patient.id}/delete",
        data={"csrf_token": hidden(chart.text, "csrf_token"), "confirm": "on"},
    )
    assert refused.status_code == 403
    await session.refresh(patient)
    assert patient.restricted_at is None
