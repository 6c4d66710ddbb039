"""The WhatsApp webhook end to end: signatures, routing, consent, screening, replies, alerts."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from asgi_lifespan import LifespanManager
from httpx import ASGITransport, AsyncClient, Response
from pydantic import SecretStr
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from twilio.request_validator import RequestValidator

from kura.app import create_app
from kura.config import Settings
from kura.db.engine import Database
from kura.monitoring.models import Direction, MessageLog, RiskAlert
from kura.orgs.models import Organization
from tests.factories import Member, make_owner, make_patient

TOKEN = "twilio-test-auth-token-0123456789"
PUBLIC = "https://api.kuraos.test"
SHARED = "+34911000000"
PATH = "/api/v1/webhooks/whatsapp"
PATIENT_PHONE = "+34612345678"


@pytest.fixture
def twilio_settings(settings: Settings) -> Settings:
    return settings.model_copy(
        update={
            "twilio_auth_token": SecretStr(TOKEN),
            "twilio_account_sid": "AC" + "0" * 32,
            "twilio_whatsapp_number": SHARED,
            "public_base_url": PUBLIC,
        }
    )


@pytest.fixture
async def wa(twilio_settings: Settings, database: Database) -> AsyncIterator[AsyncClient]:
    app = create_app(twilio_settings, database=database)
    async with (
        LifespanManager(app),
        AsyncClient(transport=ASGITransport(app), base_url="http://internal.run.app") as client,
    ):
        yield client


_sid = iter(range(10_000, 99_999))


def message(
    body: str, *, sender: str = PATIENT_PHONE, to: str = SHARED, **extra: str
) -> dict[str, str]:
    return {
        "MessageSid": f"SM{next(_sid):032d}",
        "AccountSid": "AC" + "0" * 32,
        "From": f"whatsapp:{sender}",
        "To": f"whatsapp:{to}",
        "Body": body,
        "NumMedia": "0",
        **extra,
    }


async def send(client: AsyncClient, params: dict[str, str], *, path: str = PATH) -> Response:
    signature = RequestValidator(TOKEN).compute_signature(f"{PUBLIC}{path}", params)
    return await client.post(path, data=params, headers={"X-Twilio-Signature": signature})


async def _count(session: AsyncSession, *where: Any) -> int:
    return int(
        await session.scalar(select(func.count()).select_from(MessageLog).where(*where)) or 0
    )


@pytest.fixture
async def consenting(session: AsyncSession, owner: Member) -> Any:
    return await make_patient(
        session, owner.organization, phone=PATIENT_PHONE, monitoring_consent=True, language="es"
    )


async def test_unsigned_or_wrongly_signed_requests_are_refused(
    wa: AsyncClient, session: AsyncSession, consenting: Any
) -> None:
    params = message("Hola")
    unsigned = await wa.post(PATH, data=params)
    assert unsigned.status_code == 403
    forged = await wa.post(PATH, data=params, headers={"X-Twilio-Signature": "bm90LWl0"})
    assert forged.status_code == 403
    # Signed over the URL the app sees behind the proxy, not the public one Twilio uses.
    proxied = RequestValidator(TOKEN).compute_signature(f"http://internal.run.app{PATH}", params)
    assert (
        await wa.post(PATH, data=params, headers={"X-Twilio-Signature": proxied})
    ).status_code == 403
    tampered = {**params, "Body": "otra cosa"}
    signature = RequestValidator(TOKEN).compute_signature(f"{PUBLIC}{PATH}", params)
    assert (
        await wa.post(PATH, data=tampered, headers={"X-Twilio-Signature": signature})
    ).status_code == 403
    assert await _count(session) == 0


async def test_production_without_a_token_refuses_instead_of_accepting(
    settings: Settings, database: Database
) -> None:
    production = settings.model_copy(
        update={"environment": "production", "secret_key": SecretStr("p" * 40)}
    )
    app = create_app(production, database=database)
    async with (
        LifespanManager(app),
        AsyncClient(transport=ASGITransport(app), base_url="http://test") as client,
    ):
        response = await client.post(PATH, data=message("Hola"))
    assert response.status_code == 503


async def test_a_benign_message_is_stored_once_and_acknowledged_once(
    wa: AsyncClient, session: AsyncSession, consenting: Any
) -> None:
    params = message("Hola, la sesión de ayer me ayudó mucho")
    first = await send(wa, params)
    assert first.status_code == 200
    assert first.headers["content-type"].startswith("application/xml")
    assert "<Message>Mensaje recibido" in first.text and "112" in first.text
    again = await send(wa, params)  # Twilio redelivers
    assert again.text == first.text
    assert await _count(session, MessageLog.direction == Direction.INBOUND) == 1
    stored = await session.scalar(
        select(MessageLog).where(MessageLog.provider_sid == params["MessageSid"])
    )
    assert stored is not None and stored.patient_id == consenting.id
    assert stored.screen_risk == "LOW" and stored.body == params["Body"]
    later = await send(wa, message("Otra cosa que contarte"))
    assert (
        later.text.endswith("<Response />") or "<Message>" not in later.text
    )  # one ack per window
    alerts = await session.scalar(select(func.count()).select_from(RiskAlert))
    assert alerts == 0


async def test_a_risky_message_gets_a_safety_reply_an_alert_and_queued_work(
    wa: AsyncClient, session: AsyncSession, connection: AsyncConnection, consenting: Any
) -> None:
    response = await send(wa, message("Ya no puedo más, quiero morirme"))
    assert response.status_code == 200
    assert "024" in response.text and "112" in response.text
    assert "Tu terapeuta recibirá un aviso" in response.text  # what happens, no more
    alert = await session.scalar(select(RiskAlert))
    assert alert is not None and alert.risk == "HIGH" and "suicidal_ideation" in alert.flags
    assert alert.acknowledged_at is None
    jobs = (
        await connection.execute(
            text("SELECT task_name, queueing_lock FROM procrastinate_jobs ORDER BY id")
        )
    ).all()
    names = [j[0] for j in jobs]
    assert "monitoring:notify_risk_alert" in names
    assert "monitoring:analyze_conversation" in names
    # A second message the same day does not queue a second analysis (debounce).
    await send(wa, message("Sigo aquí"))
    count = await connection.execute(
        text(
            "SELECT count(*) FROM procrastinate_jobs "
            "WHERE task_name = 'monitoring:analyze_conversation'"
        )
    )
    assert count.scalar_one() == 1
    # The safety reply is stored as an outbound message too.
    assert await _count(session, MessageLog.direction == Direction.OUTBOUND) >= 1


async def test_unknown_senders_leave_nothing_but_are_never_left_alone(
    wa: AsyncClient, session: AsyncSession, consenting: Any
) -> None:
    ordinary = await send(wa, message("hola, ¿es la consulta?", sender="+34699999999"))
    assert ordinary.status_code == 200 and "código" in ordinary.text and "112" in ordinary.text
    # A stranger (a patient's new phone) in crisis gets the emergency numbers at once…
    crisis = await send(wa, message("esta noche me voy a matar", sender="+34699999999"))
    assert "<Message>" in crisis.text and "112" in crisis.text and "024" in crisis.text
    assert "no puede hacer llegar tu mensaje" in crisis.text  # no false promise of an alert
    # …from their own country: a UK number is answered in English with the UK's lines.
    uk = await send(wa, message("I took all my pills an hour ago", sender="+447400123456"))
    assert "999" in uk.text and "116 123" in uk.text and "Call 999 now" in uk.text
    # A sender whose number cannot even be parsed is screened too.
    odd = await send(wa, message("quiero morirme", sender="12"))
    assert "112" in odd.text
    # Nothing of any of it is stored, and no practice is alerted.
    assert await _count(session) == 0
    assert await session.scalar(select(func.count()).select_from(RiskAlert)) == 0


async def test_an_unenrolled_patient_leaves_nothing_but_gets_the_numbers(
    wa: AsyncClient, session: AsyncSession, owner: Member
) -> None:
    await make_patient(session, owner.organization, phone=PATIENT_PHONE, monitoring_consent=False)
    first = await send(wa, message("hola, ¿qué tal?"))
    assert "112" in first.text  # every reply carries the emergency numbers
    crisis = await send(wa, message("quiero morirme"))
    assert "024" in crisis.text and "Gracias por contármelo" in crisis.text
    # Nothing of an unenrolled patient's messages is stored or alerted.
    assert await _count(session) == 0
    assert await session.scalar(select(func.count()).select_from(RiskAlert)) == 0


async def test_another_practices_record_of_the_phone_changes_nothing(
    wa: AsyncClient, session: AsyncSession, settings: Settings, consenting: Any
) -> None:
    other = await make_owner(session, settings)
    for _ in range(3):  # records with the same phone, even with consent ticked by staff
        await make_patient(
            session,
            other.organization,
            phone=PATIENT_PHONE,
            monitoring_consent=True,
            monitoring_status="none",
        )
        other = await make_owner(session, settings)
    response = await send(wa, message("Ya no puedo más, quiero morirme"))
    assert "Tu terapeuta recibirá un aviso" in response.text
    stored = await session.scalar(
        select(MessageLog).where(MessageLog.direction == Direction.INBOUND)
    )
    assert stored is not None and stored.patient_id == consenting.id
    alerts = list(await session.scalars(select(RiskAlert)))
    assert [a.organization_id for a in alerts] == [consenting.organization_id]


async def test_a_number_routes_only_the_patients_enrolled_on_it(
    wa: AsyncClient, session: AsyncSession, settings: Settings, consenting: Any
) -> None:
    other = await make_owner(session, settings)
    organization = await session.get_one(Organization, other.organization.id)
    organization.whatsapp_number = "+34911222333"
    await session.flush()
    # Enrolled on the shared number only: the second practice's number routes nothing of it.
    response = await send(wa, message("hola", to="+34911222333"))
    assert "código" in response.text and "112" in response.text  # how to enroll, no content
    assert await _count(session) == 0


async def test_media_is_kept_only_from_twilio(
    wa: AsyncClient, session: AsyncSession, consenting: Any
) -> None:
    evil = message(
        "", NumMedia="1", MediaUrl0="https://evil.example/steal", MediaContentType0="audio/ogg"
    )
    await send(wa, evil)
    good = message(
        "",
        NumMedia="1",
        MediaUrl0="https://api.twilio.com/2010-04-01/Accounts/AC0/Messages/MM1/Media/ME1",
        MediaContentType0="audio/ogg",
    )
    await send(wa, good)
    rows = list(
        await session.scalars(
            select(MessageLog)
            .where(MessageLog.direction == Direction.INBOUND)
            .order_by(MessageLog.created_at)
        )
    )
    assert [r.media_url is not None for r in rows] == [False, True]
    assert all(r.media_content_type == "audio/ogg" for r in rows)


async def test_the_original_path_is_the_same_handler(
    wa: AsyncClient, session: AsyncSession, consenting: Any
) -> None:
    path = "/api/v1/webhooks/twilio/whatsapp"
    response = await send(wa, message("hola"), path=path)
    assert response.status_code == 200 and "Mensaje recibido" in response.text


async def test_bad_input_is_4xx_or_empty_never_500(
    wa: AsyncClient, session: AsyncSession, consenting: Any
) -> None:
    huge = await wa.post(
        PATH,
        content=b"Body=" + b"a" * 70_000,
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert huge.status_code == 413
    latin1 = await wa.post(
        PATH,
        content="Body=ca\xf1a".encode("latin-1"),
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert latin1.status_code == 400
    no_from = message("hola")
    del no_from["From"]
    assert (await send(wa, no_from)).status_code == 400
    weird = await send(wa, message("🙏🏽 hola, I want to die 😢 ayúdame"))
    assert weird.status_code == 200 and "024" in weird.text
    burst = message("una vez")
    for _ in range(100):
        assert (await send(wa, burst)).status_code == 200
    assert await _count(session, MessageLog.provider_sid == burst["MessageSid"]) == 1


async def test_a_message_with_a_nul_byte_is_stored_and_screened_not_dropped(
    wa: AsyncClient, session: AsyncSession, consenting: Any
) -> None:
    params = message("Ya no puedo más,\x00 quiero morirme")
    response = await send(wa, params)
    assert response.status_code == 200
    assert "024" in response.text  # screened: the safety reply went out
    stored = await session.scalar(
        select(MessageLog).where(MessageLog.provider_sid == params["MessageSid"])
    )
    assert stored is not None and stored.body == "Ya no puedo más, quiero morirme"
    assert await session.scalar(select(func.count()).select_from(RiskAlert)) == 1
