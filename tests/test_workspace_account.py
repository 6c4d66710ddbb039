"""Two-step verification from the workspace: set up (a practice that requires it sends its
people there first; the recovery codes shown once work at the next sign-in) and turned off
(password and a current code, refusals counted and audited)."""

from __future__ import annotations

import re

import pyotp
from httpx import AsyncClient
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kura.audit.models import AuditEvent
from kura.auth import mfa
from kura.config import Settings
from kura.orgs.models import Organization
from kura.users.models import Role
from tests.factories import PASSWORD, Member, enrol_mfa, fresh_codes, make_staff
from tests.workspace_support import answer_code, hidden, sign_in


async def test_a_practice_requiring_two_steps_leads_to_setup_and_codes_work_after(
    client: AsyncClient, owner: Member, session: AsyncSession, settings: Settings
) -> None:
    therapist = await make_staff(session, settings, owner.organization, Role.THERAPIST)
    (await session.get_one(Organization, owner.organization.id)).mfa_required = True
    await session.commit()
    await sign_in(client, therapist.user.email)
    held = await client.get("/app")
    assert held.status_code == 303 and held.headers["location"] == "/app/account?mfa=required"
    account = await client.get(held.headers["location"])
    assert account.status_code == 200 and "Tu consulta exige" in account.text
    assert (await client.get("/app/patients")).status_code == 303  # nothing else until then

    started = await client.post(
        "/app/account/mfa/setup", data={"csrf_token": hidden(account.text, "csrf_token")}
    )
    assert started.status_code == 200
    secret = re.search(r'<code id="mfa-secret">([A-Z2-7]+)</code>', started.text)
    assert secret and "otpauth://totp/" in started.text
    csrf = hidden(started.text, "csrf_token")
    wrong = await client.post("/app/account/mfa/confirm", data={"csrf_token": csrf, "code": "1"})
    assert wrong.status_code in (400, 401) and "Ese código no es válido." in wrong.text
    assert secret.group(1) in wrong.text  # the same key, to try again
    on = await client.post(
        "/app/account/mfa/confirm",
        data={"csrf_token": csrf, "code": pyotp.TOTP(secret.group(1)).now()},
    )
    assert on.status_code == 200
    codes = re.findall(r"<li><code>([^<]+)</code></li>", on.text)
    assert len(codes) >= 8
    assert (await client.get("/app")).status_code == 200  # the policy is met now
    assert "Activada" in (await client.get("/app/account")).text

    client.cookies.clear()
    assert (await sign_in(client, therapist.user.email)).headers["location"].startswith("/app/mfa")
    page = await client.get("/app/mfa")
    used = await client.post(
        "/app/mfa", data={"csrf_token": hidden(page.text, "csrf_token"), "code": codes[0]}
    )
    assert used.status_code == 303 and used.headers["location"] == "/app"
    assert (await client.get("/app")).status_code == 200


async def test_turning_two_steps_off_needs_the_password_and_a_code(
    client: AsyncClient, owner: Member, session: AsyncSession, settings: Settings
) -> None:
    secret = await enrol_mfa(session, settings, owner)
    await session.commit()
    await sign_in(client, owner.user.email)
    await answer_code(client, secret)
    account = await client.get("/app/account")
    assert 'action="/app/account/mfa/disable"' in account.text
    csrf = hidden(account.text, "csrf_token")
    off = "/app/account/mfa/disable"
    code = fresh_codes(secret)[-1]
    wrong = await client.post(
        off, data={"csrf_token": csrf, "password": "not-it-123", "code": code}
    )
    assert wrong.status_code == 400 and "La contraseña no es correcta." in wrong.text
    bad_code = await client.post(off, data={"csrf_token": csrf, "password": PASSWORD, "code": "1"})
    assert bad_code.status_code in (400, 401) and 'id="mfa-off-error"' in bad_code.text
    assert await mfa.is_enabled(session, owner.user.id)  # still on after both refusals
    for code in fresh_codes(secret):  # the one spent signing in is refused as a replay
        done = await client.post(off, data={"csrf_token": csrf, "password": PASSWORD, "code": code})
        if done.status_code == 200:
            break
    assert "La verificación en dos pasos está desactivada" in done.text
    assert not await mfa.is_enabled(session, owner.user.id)
    actions = set(
        await session.scalars(select(AuditEvent.action).where(AuditEvent.actor_id == owner.user.id))
    )
    assert {"auth.reauth_failed", "auth.mfa_disabled"} <= actions

    client.cookies.clear()
    assert (await sign_in(client, owner.user.email)).headers["location"] == "/app"  # no code
