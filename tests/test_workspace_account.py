"""Setting up two-step verification from the workspace, which a practice that requires it
sends its people to first; the recovery codes shown once work at the next sign-in."""

from __future__ import annotations

import re

import pyotp
from httpx import AsyncClient
from sqlalchemy.ext.asyncio import AsyncSession

from kura.config import Settings
from kura.orgs.models import Organization
from kura.users.models import Role
from tests.factories import Member, make_staff
from tests.workspace_support import hidden, sign_in


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
