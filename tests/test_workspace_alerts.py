"""Risk alerts in the workspace: the link an alert email carries opens the alert for the
patient's clinicians (audited), acknowledging needs CSRF and keeps the risk, no other practice
or role gets in."""

from __future__ import annotations

import re
import uuid
from urllib.parse import urlsplit

from httpx import AsyncClient
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kura.audit.models import AuditEvent
from kura.config import Settings
from kura.db.engine import Database
from kura.monitoring.models import Direction, MessageLog, RiskAlert, Routing
from kura.monitoring.notify import send_alert_emails
from kura.users.models import Role
from tests.email_support import newest_mail_to
from tests.factories import Member, make_owner, make_patient, make_staff
from tests.workspace_support import hidden, sign_in

MESSAGE = "Ya no puedo más, he pensado en cómo hacerlo"


async def _alert(session: AsyncSession, owner: Member, therapist: Member) -> RiskAlert:
    patient = await make_patient(
        session,
        owner.organization,
        full_name="Marta Soler",
        monitoring_consent=True,
        assigned_therapist_id=therapist.user.id,
    )
    message = MessageLog(
        organization_id=owner.organization.id,
        patient_id=patient.id,
        direction=Direction.INBOUND,
        routing=Routing.ROUTED,
        from_number=patient.phone or "",
        to_number="+34911000000",
        body=MESSAGE,
    )
    session.add(message)
    await session.flush()
    alert = RiskAlert(
        organization_id=owner.organization.id,
        patient_id=patient.id,
        message_id=message.id,
        source="screen",
        level=3,
        risk="CRITICAL",
        flags=["suicidal_ideation", "method"],
    )
    session.add(alert)
    await session.commit()
    return alert


async def test_the_emailed_link_opens_the_alert_and_acknowledging_keeps_its_risk(
    client: AsyncClient,
    owner: Member,
    session: AsyncSession,
    database: Database,
    settings: Settings,
) -> None:
    therapist = await make_staff(session, settings, owner.organization, Role.THERAPIST)
    alert = await _alert(session, owner, therapist)
    assert await send_alert_emails(database, settings, alert.id) == 2
    mail = newest_mail_to(settings.kura_data_dir / "outbox" / "email", therapist.user.email)
    assert mail is not None
    body = mail.get_payload(decode=True)
    assert isinstance(body, bytes)
    found = re.search(r"https?://\S+/monitoring/alerts/[0-9a-f-]{36}", body.decode())
    assert found, body
    path = urlsplit(found.group(0)).path
    assert path == f"/app/monitoring/alerts/{alert.id}"

    signed_in = await sign_in(client, therapist.user.email, next_path=path)
    assert signed_in.headers["location"] == path  # back to the alert after signing in
    page = await client.get(path)
    assert page.status_code == 200, page.text
    assert "Marta Soler" in page.text and MESSAGE in page.text and "CRITICAL" in page.text
    assert "112" in page.text and "suicidal_ideation" in page.text
    viewed = await session.scalar(
        select(AuditEvent).where(
            AuditEvent.actor_id == therapist.user.id,
            AuditEvent.action == "monitoring.messages_viewed",
        )
    )
    assert viewed is not None and viewed.target_id == str(alert.patient_id)
    listed = await client.get("/app/alerts")
    assert listed.status_code == 200 and f"/app/monitoring/alerts/{alert.id}" in listed.text

    ack = f"{path}/acknowledge"
    assert (await client.post(ack, data={"csrf_token": "forged"})).status_code == 403
    await session.refresh(alert)
    assert alert.acknowledged_at is None
    done = await client.post(ack, data={"csrf_token": hidden(page.text, "csrf_token")})
    assert done.status_code == 303 and done.headers["location"] == path
    await session.refresh(alert)
    assert alert.acknowledged_by_id == therapist.user.id and alert.risk == "CRITICAL"
    again = await client.get(path)
    assert therapist.user.full_name in again.text and "acknowledge" not in again.text
    assert f"/app/monitoring/alerts/{alert.id}" not in (await client.get("/app/alerts")).text


async def test_another_practice_and_an_assistant_cannot_open_an_alert(
    client: AsyncClient, owner: Member, session: AsyncSession, settings: Settings
) -> None:
    therapist = await make_staff(session, settings, owner.organization, Role.THERAPIST)
    alert = await _alert(session, owner, therapist)
    stranger = await make_owner(session, settings)
    assistant = await make_staff(session, settings, owner.organization, Role.ASSISTANT)
    await session.commit()
    path = f"/app/monitoring/alerts/{alert.id}"

    await sign_in(client, stranger.user.email)
    assert (await client.get(path)).status_code == 404
    page = await client.get("/app")
    ack = await client.post(
        f"{path}/acknowledge", data={"csrf_token": hidden(page.text, "csrf_token")}
    )
    assert ack.status_code == 404
    assert (await client.get(f"/app/monitoring/alerts/{uuid.uuid4()}")).status_code == 404
    assert (await client.get("/app/monitoring/alerts/not-an-id")).status_code == 400
    assert f"/app/monitoring/alerts/{alert.id}" not in (await client.get("/app/alerts")).text

    client.cookies.clear()
    await sign_in(client, assistant.user.email)
    refused = await client.get(path)
    assert refused.status_code == 403 and MESSAGE not in refused.text
    assert (await client.get("/app/alerts")).status_code == 403
    await session.refresh(alert)
    assert alert.acknowledged_at is None
