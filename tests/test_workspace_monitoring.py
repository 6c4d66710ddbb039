"""WhatsApp monitoring from the workspace: the code made on the patient's page enrolls them
through the signed webhook, their crisis message becomes an alert on Today, the week's
messages are read (audited), stopping purges the texts; who may not."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import pytest
from asgi_lifespan import LifespanManager
from httpx import ASGITransport, AsyncClient
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kura.app import create_app
from kura.audit.models import AuditEvent
from kura.config import Settings
from kura.db.engine import Database
from kura.monitoring.models import MessageLog
from kura.users.models import Role
from tests.factories import Member, make_owner, make_patient, make_staff
from tests.test_monitoring import message, send
from tests.test_monitoring import twilio_settings as twilio_settings  # the fixture
from tests.workspace_support import hidden, sign_in

PHONE = "+34655443322"
CRISIS = "Ya no puedo más, esta noche me quiero matar"


@pytest.fixture
async def browser(twilio_settings: Settings, database: Database) -> AsyncIterator[AsyncClient]:
    """The workspace and the WhatsApp webhook on one app (Twilio configured)."""
    app = create_app(twilio_settings, database=database)
    async with (
        LifespanManager(app) as manager,
        AsyncClient(
            transport=ASGITransport(manager.app), base_url="http://internal.run.app"
        ) as client,
    ):
        yield client


async def test_enroll_from_the_page_then_a_crisis_message_reaches_today(
    browser: AsyncClient, owner: Member, session: AsyncSession
) -> None:
    patient = await make_patient(session, owner.organization, full_name="Iker Sanz", phone=PHONE)
    await session.commit()
    await sign_in(browser, owner.user.email)
    page_path = f"/app/patients/{patient.id}/monitoring"
    page = await browser.get(page_path)
    assert page.status_code == 200 and "Sin alta" in page.text
    made = await browser.post(
        f"{page_path}/enrollment", data={"csrf_token": hidden(page.text, "csrf_token")}
    )
    assert made.status_code == 200
    (code,) = re.findall(r"<code>(KURA-[A-Z0-9]{4}-[A-Z0-9]{4})</code>", made.text)
    assert "https://wa.me/" in made.text

    assert (await send(browser, message(code, sender=PHONE))).status_code == 200
    assert "Activo" in (await browser.get(page_path)).text
    assert (await send(browser, message(CRISIS, sender=PHONE))).status_code == 200

    today = await browser.get("/app")
    (card,) = re.findall(r'<li class="card risk">(.*?)</li>', today.text, re.S)
    assert "Iker Sanz" in card and re.search(r"\b(HIGH|CRITICAL)\b", card)
    page = await browser.get(page_path)
    assert CRISIS in page.text and "abierta" in page.text
    viewed = await session.scalars(
        select(AuditEvent.action).where(
            AuditEvent.actor_id == owner.user.id, AuditEvent.target_id == str(patient.id)
        )
    )
    assert {"monitoring.messages_viewed", "monitoring.analyses_viewed"} <= set(viewed)

    stopped = await browser.post(
        f"{page_path}/withdraw", data={"csrf_token": hidden(page.text, "csrf_token")}
    )
    assert stopped.status_code == 303
    page = await browser.get(page_path)
    assert "Detenido" in page.text and CRISIS not in page.text
    assert "/app/monitoring/alerts/" in page.text  # the alert stays
    bodies = await session.scalars(
        select(MessageLog.body).where(MessageLog.patient_id == patient.id)
    )
    assert CRISIS not in [body for body in bodies]


async def test_an_assistant_and_another_practice_cannot_reach_monitoring(
    browser: AsyncClient, owner: Member, session: AsyncSession, settings: Settings
) -> None:
    patient = await make_patient(session, owner.organization, phone=PHONE)
    assistant = await make_staff(session, settings, owner.organization, Role.ASSISTANT)
    stranger = await make_owner(session, settings)
    await session.commit()
    page_path = f"/app/patients/{patient.id}/monitoring"
    await sign_in(browser, assistant.user.email)
    csrf = hidden((await browser.get("/app")).text, "csrf_token")
    assert (await browser.get(page_path)).status_code == 403
    assert (
        await browser.post(f"{page_path}/enrollment", data={"csrf_token": csrf})
    ).status_code == 403
    browser.cookies.clear()
    await sign_in(browser, stranger.user.email)
    csrf = hidden((await browser.get("/app")).text, "csrf_token")
    assert (await browser.get(page_path)).status_code == 404
    for action in ("enrollment", "withdraw"):
        answer = await browser.post(f"{page_path}/{action}", data={"csrf_token": csrf})
        assert answer.status_code == 404, action
