"""The therapist workspace (/app) over HTTP as a browser drives it: signing in (with the code
step), CSRF, emailed links followed from the outbox, the Today page, headers, redirects."""

from __future__ import annotations

import re
from datetime import datetime, time, timedelta
from pathlib import Path

from httpx import AsyncClient
from sqlalchemy.ext.asyncio import AsyncSession

from kura.bookings.models import Booking, BookingStatus, Service
from kura.briefings.content import local_today, practice_zone
from kura.config import Settings
from kura.db.base import utcnow
from kura.db.engine import Database
from kura.monitoring.models import RiskAlert
from kura.users.models import Role
from kura.workspace.web import WORKSPACE_POLICY
from tests.email_support import link_token, newest_mail_to, send_queued_links
from tests.factories import PASSWORD, Member, enrol_mfa, make_patient, make_staff
from tests.workspace_support import answer_code, hidden, sign_in

TEMPLATES = Path(__file__).parents[1] / "src" / "kura" / "workspace" / "templates"


async def test_without_a_session_pages_lead_to_the_sign_in_form(client: AsyncClient) -> None:
    today = await client.get("/app")
    assert today.status_code == 303 and today.headers["location"] == "/app/login?next=/app"
    form = await client.get("/app/login")
    assert form.status_code == 200
    assert '<label for="email">' in form.text and 'type="password"' in form.text
    assert 'lang="es"' in form.text and "Entrar" in form.text  # Spanish by default
    posted = await client.post("/app/logout", data={"csrf_token": "x"})
    assert posted.status_code == 303 and posted.headers["location"].startswith("/app/login")


async def test_sign_in_shows_today_with_the_days_sessions_and_open_alerts(
    client: AsyncClient, owner: Member, session: AsyncSession
) -> None:
    organization = owner.organization
    patient = await make_patient(session, organization, full_name="Lucía Ferrer")
    service = Service(
        organization_id=organization.id,
        name="Terapia individual",
        duration_minutes=50,
        price_cents=0,
    )
    session.add(service)
    await session.flush()
    zone = practice_zone(organization.timezone)
    noon = datetime.combine(local_today(organization.timezone, utcnow()), time(12), tzinfo=zone)
    session.add(
        Booking(
            organization_id=organization.id,
            patient_id=patient.id,
            service_id=service.id,
            therapist_id=owner.user.id,
            starts_at=noon,
            ends_at=noon + timedelta(minutes=50),
            status=BookingStatus.CONFIRMED,
            amount_cents=0,
            currency="eur",
        )
    )
    session.add(
        RiskAlert(
            organization_id=organization.id, patient_id=patient.id, source="screen", risk="HIGH"
        )
    )
    await session.commit()

    signed_in = await sign_in(client, owner.user.email)
    assert signed_in.status_code == 303 and signed_in.headers["location"] == "/app"
    page = await client.get("/app")
    assert page.status_code == 200, page.text
    assert page.headers["cache-control"] == "no-store"
    assert owner.user.full_name in page.text
    assert "12:00\N{EN DASH}12:50" in page.text and "Lucía Ferrer" in page.text
    assert "Terapia individual" in page.text and "Confirmada" in page.text
    assert "Alertas de riesgo abiertas" in page.text and "HIGH" in page.text
    english = await client.get("/app/lang/en", params={"next": "/app"})
    assert english.headers["location"] == "/app"
    page = await client.get("/app")
    assert "Open risk alerts" in page.text and "Confirmed" in page.text

    (alert_id,) = re.findall(
        r'action="/app/monitoring/alerts/([0-9a-f-]{36})/acknowledge"', page.text
    )
    done = await client.post(
        f"/app/monitoring/alerts/{alert_id}/acknowledge",
        data={"csrf_token": hidden(page.text, "csrf_token"), "next": "/app"},
    )
    assert done.status_code == 303 and done.headers["location"] == "/app"  # one click
    page = await client.get("/app")
    assert "No open risk alerts." in page.text

    prepared = await client.post(
        "/app/briefing", data={"csrf_token": hidden(page.text, "csrf_token")}
    )
    assert prepared.status_code == 303 and prepared.headers["location"] == "/app#briefing"
    page = await client.get("/app")
    assert '<p class="script">' in page.text and "Prepare my briefing" not in page.text
    (audio,) = re.findall(r'<audio controls preload="none" src="([^"]+)"', page.text)
    played = await client.get(audio.replace("&amp;", "&"))
    assert played.status_code == 200 and played.headers["content-type"] == "audio/mpeg"
    assert played.content[:3] == b"ID3" or played.content[0] == 0xFF  # an MP3 stream


async def test_an_assistant_sees_the_agenda_but_not_the_alerts(
    client: AsyncClient, owner: Member, session: AsyncSession, settings: Settings
) -> None:
    assistant = await make_staff(session, settings, owner.organization, Role.ASSISTANT)
    await session.commit()
    assert (await sign_in(client, assistant.user.email)).status_code == 303
    page = await client.get("/app")
    assert page.status_code == 200 and "No hay sesiones hoy." in page.text
    assert "alerta" not in page.text


async def test_wrong_password_expired_form_and_foreign_next_are_refused(
    client: AsyncClient, owner: Member, session: AsyncSession
) -> None:
    await session.commit()
    wrong = await sign_in(client, owner.user.email, "not-the-password-1")
    assert wrong.status_code == 401 and "kura_session" not in wrong.headers.get("set-cookie", "")
    assert "Correo o contraseña incorrectos." in wrong.text
    forged = await client.post(
        "/app/login",
        data={"email": owner.user.email, "password": PASSWORD, "form_token": "forged"},
    )
    assert forged.status_code == 400 and "kura_session" not in forged.headers.get("set-cookie", "")
    for foreign in ("https://evil.example/app", "//evil.example/app", "/admin", "/app\\@evil"):
        form = await client.get("/app/login", params={"next": foreign})
        assert hidden(form.text, "next") == "/app", foreign
        switched = await client.get("/app/lang/en", params={"next": foreign})
        assert switched.headers["location"] == "/app", foreign
    landed = await sign_in(client, owner.user.email, next_path="https://evil.example/")
    assert landed.status_code == 303 and landed.headers["location"] == "/app"


async def test_with_two_step_verification_the_code_comes_before_any_page(
    client: AsyncClient, owner: Member, session: AsyncSession, settings: Settings
) -> None:
    secret = await enrol_mfa(session, settings, owner)
    await session.commit()
    signed_in = await sign_in(client, owner.user.email)
    assert signed_in.status_code == 303
    assert signed_in.headers["location"] == "/app/mfa?next=/app"
    held = await client.get("/app")
    assert held.status_code == 303 and held.headers["location"] == "/app/mfa?next=/app"
    page = await client.get("/app/mfa")
    wrong = await client.post(
        "/app/mfa", data={"csrf_token": hidden(page.text, "csrf_token"), "code": "000000"}
    )
    assert wrong.status_code == 400 and "Ese código no es válido." in wrong.text
    assert (await answer_code(client, secret)).headers["location"] == "/app"
    assert (await client.get("/app")).status_code == 200


async def test_sign_out_needs_the_sessions_csrf_token_and_ends_the_session(
    client: AsyncClient, owner: Member, session: AsyncSession
) -> None:
    await session.commit()
    await sign_in(client, owner.user.email)
    page = await client.get("/app")
    token = hidden(page.text, "csrf_token")
    missing = await client.post("/app/logout", data={})
    assert missing.status_code == 403
    cross_site = await client.post(
        "/app/logout", data={"csrf_token": token}, headers={"Sec-Fetch-Site": "cross-site"}
    )
    assert cross_site.status_code == 403
    assert (await client.get("/app")).status_code == 200  # still signed in
    out = await client.post("/app/logout", data={"csrf_token": token})
    assert out.status_code == 303 and out.headers["location"] == "/app/login?notice=signed-out"
    assert (await client.get("/app")).status_code == 303


async def test_a_reset_link_from_the_outbox_sets_a_new_password_once(
    client: AsyncClient,
    owner: Member,
    session: AsyncSession,
    database: Database,
    settings: Settings,
) -> None:
    await session.commit()
    form = await client.get("/app/forgot-password")
    asked = await client.post(
        "/app/forgot-password",
        data={"email": owner.user.email, "form_token": hidden(form.text, "form_token")},
    )
    assert asked.status_code == 303 and asked.headers["location"].endswith("notice=reset-sent")
    await send_queued_links(database, settings)
    mail = newest_mail_to(settings.kura_data_dir / "outbox" / "email", owner.user.email)
    assert mail is not None
    body = mail.get_payload(decode=True)
    assert isinstance(body, bytes)
    assert f"{settings.frontend_url}/reset-password?token=" in body.decode()
    assert settings.frontend_url.endswith("/app")
    token = link_token(mail, "reset-password")
    page = await client.get("/app/reset-password", params={"token": token})
    assert page.status_code == 200 and hidden(page.text, "token") == token
    new = "a-brand-new-secret-42"
    mismatch = await client.post(
        "/app/reset-password", data={"token": token, "password": new, "password_again": "x"}
    )
    assert mismatch.status_code == 422
    weak = await client.post(
        "/app/reset-password", data={"token": token, "password": "short", "password_again": "short"}
    )
    assert weak.status_code == 422, weak.text  # and the link is not spent:
    done = await client.post(
        "/app/reset-password", data={"token": token, "password": new, "password_again": new}
    )
    assert done.status_code == 303, done.text
    assert done.headers["location"].endswith("notice=password-set")
    again = await client.post(
        "/app/reset-password", data={"token": token, "password": new, "password_again": new}
    )
    assert again.status_code == 400
    assert (await sign_in(client, owner.user.email, PASSWORD)).status_code == 401
    assert (await sign_in(client, owner.user.email, new)).status_code == 303


async def test_security_headers_on_pages_redirects_and_static_files(client: AsyncClient) -> None:
    for path in ("/app/login", "/app", "/app/static/app.css", "/app/nope"):
        response = await client.get(path)
        assert response.headers["content-security-policy"] == WORKSPACE_POLICY, path
        assert response.headers["x-frame-options"] == "DENY"
        assert response.headers["x-content-type-options"] == "nosniff"
    assert (await client.get("/app/nope")).status_code == 404


def test_templates_have_no_inline_script_style_or_handlers() -> None:
    for template in TEMPLATES.glob("*.html"):
        html = template.read_text()
        assert re.search(r"<script(?![^>]*\bsrc=)", html) is None, template.name
        assert re.search(r"\sstyle=", html) is None, template.name
        assert re.search(r"\son[a-z]+=", html) is None, template.name
