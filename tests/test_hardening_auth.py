"""Account attacks: unverified addresses, stale reset links, password guessing while signed in,
locking someone else out, invitations as a phishing channel, assistants deleting records."""

from __future__ import annotations

import email.message
import uuid

from httpx import AsyncClient
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from kura.audit.models import AuditEvent
from kura.auth.password_links import deliver_password_link
from kura.config import Settings
from kura.db.engine import Database
from kura.users.models import Role
from tests.factories import PASSWORD, Member, make_owner, make_patient, make_staff
from tests.test_password_reset import (
    NEW_PASSWORD,
    _link_jobs,
    _newest_mail_to,
    _request_and_deliver,
    _token_from,
)

NEW = {
    "email": "nora@example.org",
    "password": "una-clave-muy-larga-42",
    "full_name": "Nora",
    "org_name": "Consulta Nora",
}


def _text(mail: email.message.Message) -> str:
    payload = mail.get_payload(decode=True)
    assert isinstance(payload, bytes)
    return payload.decode()


async def _deliver_new_links(
    connection: AsyncConnection, database: Database, settings: Settings, before: list[str]
) -> None:
    for token_id in [t for t in await _link_jobs(connection) if t not in before]:
        await deliver_password_link(database, settings, uuid.UUID(token_id))


async def test_registration_sends_a_verification_link_that_unlocks_patients(
    client: AsyncClient, database: Database, settings: Settings, connection: AsyncConnection
) -> None:
    before = await _link_jobs(connection)
    registered = await client.post("/api/v1/auth/register", json=NEW)
    assert registered.status_code == 201
    headers = {"Authorization": f"Bearer {registered.json()['access_token']}"}
    refused = await client.post("/api/v1/patients", headers=headers, json={"full_name": "P"})
    assert refused.status_code == 403 and refused.json()["error"] == "email_not_verified"
    await _deliver_new_links(connection, database, settings, before)
    mail = _newest_mail_to(settings.kura_data_dir / "outbox" / "email", NEW["email"])
    token = _token_from(mail)
    assert "/verify-email?token=" in _text(mail)
    # A verification link cannot set a password.
    misuse = await client.post(
        "/api/v1/auth/reset-password", json={"token": token, "new_password": NEW_PASSWORD}
    )
    assert misuse.status_code == 400
    verified = await client.post("/api/v1/auth/verify-email", json={"token": token})
    assert verified.status_code == 200
    created = await client.post("/api/v1/patients", headers=headers, json={"full_name": "P"})
    assert created.status_code == 201
    again = await client.post("/api/v1/auth/verify-email", json={"token": token})
    assert again.status_code == 400  # single use


async def test_a_reset_link_dies_when_the_password_changes(
    client: AsyncClient,
    owner: Member,
    database: Database,
    settings: Settings,
    connection: AsyncConnection,
) -> None:
    token = await _request_and_deliver(client, database, settings, connection, owner.user.email)
    changed = await client.post(
        "/api/v1/auth/change-password",
        headers=owner.headers,
        json={"current_password": PASSWORD, "new_password": NEW_PASSWORD},
    )
    assert changed.status_code == 200
    stale = await client.post(
        "/api/v1/auth/reset-password", json={"token": token, "new_password": "attacker-pw-2026"}
    )
    assert stale.status_code == 400


async def test_password_rechecks_are_throttled_and_audited(
    client: AsyncClient, owner: Member, session: AsyncSession
) -> None:
    codes = []
    for _ in range(8):
        wrong = await client.post(
            "/api/v1/auth/change-password",
            headers=owner.headers,
            json={"current_password": "not-my-password-1", "new_password": NEW_PASSWORD},
        )
        codes.append(wrong.status_code)
    assert codes[:5] == [400] * 5 and set(codes[5:]) == {429}
    # Even the right password is refused while locked.
    right = await client.post(
        "/api/v1/auth/change-password",
        headers=owner.headers,
        json={"current_password": PASSWORD, "new_password": NEW_PASSWORD},
    )
    assert right.status_code == 429
    delete = await client.request(
        "DELETE", "/api/v1/auth/me", headers=owner.headers, json={"password": PASSWORD}
    )
    assert delete.status_code == 429
    failures = await session.scalar(
        select(func.count())
        .select_from(AuditEvent)
        .where(
            AuditEvent.action == "auth.reauth_failed", AuditEvent.target_id == str(owner.user.id)
        )
    )
    assert failures == 5


async def test_a_stranger_cannot_lock_the_owner_out_from_another_ip(
    client: AsyncClient, owner: Member, settings: Settings, database: Database
) -> None:
    from asgi_lifespan import LifespanManager
    from httpx import ASGITransport

    from kura.app import create_app

    behind_proxy = create_app(
        settings.model_copy(update={"trusted_proxy_hops": 1}), database=database
    )
    async with (
        LifespanManager(behind_proxy) as manager,
        AsyncClient(transport=ASGITransport(manager.app), base_url="http://test") as proxied,
    ):
        for _ in range(7):
            await proxied.post(
                "/api/v1/auth/login",
                json={"email": owner.user.email, "password": "guess-guess-guess"},
                headers={"X-Forwarded-For": "203.0.113.9"},
            )
        attacker = await proxied.post(
            "/api/v1/auth/login",
            json={"email": owner.user.email, "password": PASSWORD},
            headers={"X-Forwarded-For": "203.0.113.9"},
        )
        assert attacker.status_code == 429  # the guessing IP is locked for this account...
        real = await proxied.post(
            "/api/v1/auth/login",
            json={"email": owner.user.email, "password": PASSWORD},
            headers={"X-Forwarded-For": "198.51.100.4"},
        )
        assert real.status_code == 200  # ...the owner, elsewhere, is not


async def test_forwarded_for_is_ignored_without_trusted_proxies(
    client: AsyncClient, owner: Member, session: AsyncSession
) -> None:
    await client.post(
        "/api/v1/auth/login",
        json={"email": owner.user.email, "password": "wrong-password-1"},
        headers={"X-Forwarded-For": "203.0.113.77"},
    )
    ips = await session.scalars(
        select(AuditEvent.ip).where(AuditEvent.action == "auth.login_failed")
    )
    assert "203.0.113.77" not in {str(ip) for ip in ips}


async def test_invitations_are_limited_name_the_inviter_and_defang_the_practice_name(
    client: AsyncClient,
    owner: Member,
    session: AsyncSession,
    database: Database,
    settings: Settings,
    connection: AsyncConnection,
) -> None:
    owner.organization.name = "Banco Seguro — verifica en www.banco-seguro.example/login"
    await session.flush()
    before = await _link_jobs(connection)
    invited = await client.post(
        "/api/v1/staff",
        headers=owner.headers,
        json={"email": "target@example.org", "full_name": "Target", "role": "THERAPIST"},
    )
    assert invited.status_code == 201
    await _deliver_new_links(connection, database, settings, before)
    mail = _newest_mail_to(settings.kura_data_dir / "outbox" / "email", "target@example.org")
    body = _text(mail)
    assert "Banco" not in mail["Subject"]  # the subject is ours alone
    assert owner.user.full_name in body and owner.user.email in body  # who invited
    assert "www.banco-seguro.example" not in body and "www[.]banco-seguro[.]example" in body
    codes = []
    for n in range(25):
        response = await client.post(
            "/api/v1/staff",
            headers=owner.headers,
            json={"email": f"spam{n}@example.org", "full_name": "S", "role": "ASSISTANT"},
        )
        codes.append(response.status_code)
    assert 429 in codes and codes.count(201) == 19  # 20 per practice per day


async def test_an_unverified_owner_cannot_invite(client: AsyncClient) -> None:
    registered = await client.post("/api/v1/auth/register", json=NEW)
    headers = {"Authorization": f"Bearer {registered.json()['access_token']}"}
    invite = await client.post(
        "/api/v1/staff",
        headers=headers,
        json={"email": "victim@example.org", "full_name": "V", "role": "THERAPIST"},
    )
    assert invite.status_code == 403


async def test_an_assistant_cannot_delete_patients_or_change_consent_but_sees_the_agenda(
    client: AsyncClient, owner: Member, session: AsyncSession, settings: Settings
) -> None:
    assistant = await make_staff(session, settings, owner.organization, Role.ASSISTANT)
    therapist = await make_staff(session, settings, owner.organization, Role.THERAPIST)
    patient = await make_patient(session, owner.organization)
    url = f"/api/v1/patients/{patient.id}"
    assert (await client.delete(url, headers=assistant.headers)).status_code == 403
    assert (await client.delete(url, headers=therapist.headers)).status_code == 403
    consent = await client.patch(url, headers=assistant.headers, json={"monitoring_consent": True})
    assert consent.status_code == 403
    create = await client.post(
        "/api/v1/patients",
        headers=assistant.headers,
        json={"full_name": "Nuevo", "monitoring_consent": True},
    )
    assert create.status_code == 403
    assert (await client.get("/api/v1/bookings", headers=assistant.headers)).status_code == 200
    notes = await client.get(f"{url}/notes", headers=assistant.headers)
    assert notes.status_code == 403  # clinical content stays closed
    assert (await client.delete(url, headers=owner.headers)).status_code == 204


async def test_patient_lists_are_audited_with_ids_not_query_text(
    client: AsyncClient, owner: Member, session: AsyncSession
) -> None:
    patient = await make_patient(session, owner.organization, full_name="Marta Ruiz")
    listed = await client.get("/api/v1/patients?q=Marta", headers=owner.headers)
    assert listed.status_code == 200
    rows = (
        await session.execute(
            text("SELECT details::text FROM audit_event WHERE action = 'patient.listed'")
        )
    ).scalars()
    details = list(rows)
    assert len(details) == 1
    assert str(patient.id) in details[0] and "Marta" not in details[0]


async def test_probing_which_addresses_have_accounts_is_capped(
    client: AsyncClient, owner: Member, session: AsyncSession, settings: Settings
) -> None:
    elsewhere = await make_owner(session, settings)  # an account in another practice
    probes = [elsewhere.user.email if n % 2 else f"nobody{n}@example.org" for n in range(24)]
    staff_codes = [
        (
            await client.post(
                "/api/v1/staff",
                headers=owner.headers,
                json={"email": email, "full_name": "P", "role": "ASSISTANT"},
            )
        ).status_code
        for email in probes
    ]
    # A 409 costs an attempt like a 201: 20 answers a day, then 429 whatever the address.
    assert staff_codes[:20].count(409) == 10 and set(staff_codes[20:]) == {429}
    register_codes = [
        (
            await client.post(
                "/api/v1/auth/register", json={**NEW, "email": email, "org_name": "P"}
            )
        ).status_code
        for email in probes[:14]
    ]
    assert 409 in register_codes[:10] and set(register_codes[10:]) == {429}  # 10 per IP an hour
