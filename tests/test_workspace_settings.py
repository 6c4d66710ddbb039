"""Practice settings in the workspace: the owner invites (the emailed link sets a password on
a workspace page), changes roles and ends access; services offered and withdrawn; who may."""

from __future__ import annotations

from fastapi import FastAPI
from httpx import ASGITransport, AsyncClient
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kura.bookings.models import Service
from kura.config import Settings
from kura.db.engine import Database
from kura.users.models import Role, User
from tests.email_support import link_token, newest_mail_to, send_queued_links
from tests.factories import Member, make_owner, make_staff
from tests.workspace_support import hidden, sign_in

TEAM = "/app/settings/team"
SERVICES = "/app/settings/services"


async def test_an_invitation_from_the_team_page_leads_to_a_working_sign_in(
    app: FastAPI,
    client: AsyncClient,
    owner: Member,
    session: AsyncSession,
    database: Database,
    settings: Settings,
) -> None:
    await session.commit()
    await sign_in(client, owner.user.email)
    page = await client.get(TEAM)
    assert page.status_code == 200 and owner.user.email in page.text
    csrf = hidden(page.text, "csrf_token")
    bad = await client.post(
        TEAM, data={"csrf_token": csrf, "email": "nope", "full_name": "Eva", "role": "THERAPIST"}
    )
    assert bad.status_code == 422 and 'id="email-error"' in bad.text
    assert "Escribe una dirección de correo válida." in bad.text  # pydantic's, in Spanish
    taken = await client.post(
        TEAM,
        data={"csrf_token": csrf, "email": owner.user.email, "full_name": "X", "role": "THERAPIST"},
    )
    assert taken.status_code == 409 and "Ya existe una cuenta con este correo." in taken.text
    sent = await client.post(
        TEAM,
        data={
            "csrf_token": csrf,
            "email": "eva.nueva@example.org",
            "full_name": "Eva Nueva",
            "role": "THERAPIST",
        },
    )
    assert sent.status_code == 303 and sent.headers["location"] == f"{TEAM}?invited=1"
    await send_queued_links(database, settings)
    mail = newest_mail_to(settings.kura_data_dir / "outbox" / "email", "eva.nueva@example.org")
    assert mail is not None
    body = mail.get_payload(decode=True)
    assert isinstance(body, bytes) and owner.user.full_name in body.decode()
    token = link_token(mail, "accept-invite")

    # A second browser on the same app (the `client` fixture's, its lifespan already running).
    async with AsyncClient(transport=ASGITransport(app), base_url="http://test") as newcomer:
        form = await newcomer.get("/app/accept-invite", params={"token": token})
        assert form.status_code == 200
        password = "nuevo-comienzo-sereno-7"
        accepted = await newcomer.post(
            "/app/accept-invite",
            data={"token": token, "password": password, "password_again": password},
        )
        assert accepted.status_code == 303
        assert (await sign_in(newcomer, "eva.nueva@example.org", password)).status_code == 303
        assert "Hola, Eva Nueva" in (await newcomer.get("/app")).text


async def test_roles_change_access_ends_and_an_owner_always_remains(
    app: FastAPI, client: AsyncClient, owner: Member, session: AsyncSession, settings: Settings
) -> None:
    therapist = await make_staff(session, settings, owner.organization, Role.THERAPIST)
    await session.commit()
    async with AsyncClient(transport=ASGITransport(app), base_url="http://test") as theirs:
        await sign_in(theirs, therapist.user.email)
        assert (await theirs.get("/app")).status_code == 200
        assert (await theirs.get(TEAM)).status_code == 403  # owners only

        await sign_in(client, owner.user.email)
        csrf = hidden((await client.get(TEAM)).text, "csrf_token")
        demoted = await client.post(
            f"{TEAM}/{therapist.user.id}",
            data={"csrf_token": csrf, "role": "ASSISTANT", "is_active": "on"},
        )
        assert demoted.status_code == 303
        assert "Notas clínicas" not in (await theirs.get("/app/patients")).text
        ended = await client.post(
            f"{TEAM}/{therapist.user.id}", data={"csrf_token": csrf, "role": "ASSISTANT"}
        )
        assert ended.status_code == 303
        assert (await theirs.get("/app")).status_code == 303  # signed out: back to sign-in

    alone = await client.post(
        f"{TEAM}/{owner.user.id}", data={"csrf_token": csrf, "role": "THERAPIST", "is_active": "on"}
    )
    assert alone.status_code == 400
    stored = await session.get_one(User, owner.user.id)
    await session.refresh(stored)
    assert stored.role == Role.OWNER


async def test_services_are_offered_with_a_price_in_euros_and_withdrawn(
    client: AsyncClient, owner: Member, session: AsyncSession, settings: Settings
) -> None:
    stranger = await make_owner(session, settings)
    foreign = Service(
        organization_id=stranger.organization.id, name="Ajeno", duration_minutes=30, price_cents=0
    )
    session.add(foreign)
    assistant = await make_staff(session, settings, owner.organization, Role.ASSISTANT)
    await session.commit()
    await sign_in(client, owner.user.email)
    csrf = hidden((await client.get(SERVICES)).text, "csrf_token")
    bad = await client.post(
        SERVICES,
        data={"csrf_token": csrf, "name": "Terapia", "duration_minutes": "0", "price": "45,50"},
    )
    assert bad.status_code == 422 and 'id="duration_minutes-error"' in bad.text
    added = await client.post(
        SERVICES,
        data={
            "csrf_token": csrf,
            "name": "Terapia de pareja",
            "duration_minutes": "75",
            "price": "45,50",
            "bookable_online": "on",
        },
    )
    assert added.status_code == 303
    service = await session.scalar(
        select(Service).where(
            Service.organization_id == owner.organization.id, Service.name == "Terapia de pareja"
        )
    )
    assert service is not None and service.price_cents == 4550 and service.bookable_online
    listed = await client.get(SERVICES)
    assert "45.50 EUR" in listed.text and "75 min" in listed.text and "Ajeno" not in listed.text
    withdrawn = await client.post(f"{SERVICES}/{service.id}/withdraw", data={"csrf_token": csrf})
    assert withdrawn.status_code == 303
    await session.refresh(service)
    assert service.active is False
    other = await client.post(f"{SERVICES}/{foreign.id}/withdraw", data={"csrf_token": csrf})
    assert other.status_code == 404

    client.cookies.clear()
    await sign_in(client, assistant.user.email)
    assert (await client.get(SERVICES)).status_code == 403
