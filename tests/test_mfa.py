"""Two-step verification: setup, confirm, sign-in with a code, replay, drift, recovery codes,
throttling, operators, the practice's policy, step-up and the audit trail (real PostgreSQL)."""

from __future__ import annotations

import re
import time
from datetime import timedelta

import pyotp
from httpx import AsyncClient
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from kura.audit.models import AuditEvent
from kura.auth.mfa_models import MfaRecoveryCode, UserMfa
from kura.auth.models import AuthSession
from kura.auth.sessions import utcnow
from kura.config import Settings
from kura.users.models import Role, User
from tests.console_support import console_code, console_login, hidden_field
from tests.factories import PASSWORD, Member, enrol_mfa, make_staff, make_superuser

STEP = 30


def code_at(secret: str, offset_steps: int = 0) -> str:
    totp = pyotp.TOTP(secret)
    return totp.generate_otp(int(time.time() // STEP) + offset_steps)


async def actions(session: AsyncSession, user: User) -> list[str]:
    rows = await session.scalars(
        select(AuditEvent.action).where(AuditEvent.target_id == str(user.id))
    )
    return list(rows)


async def enable(client: AsyncClient, member: Member) -> tuple[str, list[str]]:
    setup = await client.post("/api/v1/auth/mfa/setup", headers=member.headers)
    assert setup.status_code == 200, setup.text
    secret = setup.json()["secret"]
    assert setup.json()["otpauth_uri"].startswith("otpauth://totp/")
    confirmed = await client.post(
        "/api/v1/auth/mfa/confirm", headers=member.headers, json={"code": code_at(secret)}
    )
    assert confirmed.status_code == 200, confirmed.text
    return secret, confirmed.json()["recovery_codes"]


async def sign_in(client: AsyncClient, member: Member) -> dict[str, object]:
    response = await client.post(
        "/api/v1/auth/login", json={"email": member.user.email, "password": PASSWORD}
    )
    assert response.status_code == 200, response.text
    body: dict[str, object] = response.json()
    return body


def bearer(token: object) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_setup_confirm_stores_secrets_sealed_and_codes_hashed(
    client: AsyncClient, owner: Member, session: AsyncSession
) -> None:
    secret, codes = await enable(client, owner)
    assert len(codes) == 10 and len(set(codes)) == 10
    row = await session.get_one(UserMfa, owner.user.id)
    assert row.enabled_at is not None and secret not in row.secret_sealed
    hashes = set(await session.scalars(select(MfaRecoveryCode.code_hash)))
    assert not {c.replace("-", "") for c in codes} & hashes
    again = await client.post("/api/v1/auth/mfa/setup", headers=owner.headers)
    assert again.status_code == 409
    status = (await client.get("/api/v1/auth/mfa", headers=owner.headers)).json()
    assert status["enabled"] and status["recovery_codes_left"] == 10
    assert status["session_verified_at"] is not None
    assert "auth.mfa_enabled" in await actions(session, owner.user)


async def test_a_wrong_first_code_does_not_enable(client: AsyncClient, owner: Member) -> None:
    await client.post("/api/v1/auth/mfa/setup", headers=owner.headers)
    wrong = await client.post(
        "/api/v1/auth/mfa/confirm", headers=owner.headers, json={"code": "000000"}
    )
    assert wrong.status_code == 400 and wrong.json()["error"] == "invalid_mfa_code"
    assert not (await client.get("/api/v1/auth/mfa", headers=owner.headers)).json()["enabled"]


async def test_login_gives_a_pending_session_that_only_verify_accepts(
    client: AsyncClient, owner: Member, session: AsyncSession
) -> None:
    secret, _ = await enable(client, owner)
    client.cookies.clear()
    pending = await sign_in(client, owner)
    assert pending["mfa_required"] is True and "user" not in pending
    token = pending["access_token"]
    row = await session.scalar(
        select(AuthSession).where(AuthSession.user_id == owner.user.id, AuthSession.mfa_pending)
    )
    assert row is not None and row.expires_at - utcnow() <= timedelta(minutes=5)
    client.cookies.clear()
    for path in ("/api/v1/auth/me", "/api/v1/patients", "/api/v1/auth/mfa"):
        refused = await client.get(path, headers=bearer(token))
        assert refused.status_code == 403 and "verify" in refused.json()["detail"], path
    verified = await client.post(
        "/api/v1/auth/mfa/verify", headers=bearer(token), json={"code": code_at(secret, 1)}
    )
    assert verified.status_code == 200, verified.text
    full = verified.json()["access_token"]
    assert full and full != token and verified.json()["method"] == "totp"
    assert (await client.get("/api/v1/auth/me", headers=bearer(full))).status_code == 200
    assert (await client.get("/api/v1/auth/me", headers=bearer(token))).status_code == 401
    assert "auth.mfa_verified" in await actions(session, owner.user)


async def test_a_pending_session_can_sign_out(client: AsyncClient, owner: Member) -> None:
    await enable(client, owner)
    pending = await sign_in(client, owner)
    out = await client.post("/api/v1/auth/logout", headers=bearer(pending["access_token"]))
    assert out.status_code == 200


async def test_replayed_and_older_codes_are_refused_drift_is_accepted(
    client: AsyncClient, owner: Member, session: AsyncSession
) -> None:
    secret, _ = await enable(client, owner)  # step "now" is spent by confirm
    replay = await client.post(
        "/api/v1/auth/mfa/verify", headers=owner.headers, json={"code": code_at(secret)}
    )
    assert replay.status_code == 400 and "already been used" in replay.json()["detail"]
    older = await client.post(
        "/api/v1/auth/mfa/verify", headers=owner.headers, json={"code": code_at(secret, -1)}
    )
    assert older.status_code == 400
    ahead = await client.post(
        "/api/v1/auth/mfa/verify", headers=owner.headers, json={"code": code_at(secret, 1)}
    )
    assert ahead.status_code == 200 and ahead.json()["access_token"] is None
    too_far = await client.post(
        "/api/v1/auth/mfa/verify", headers=owner.headers, json={"code": code_at(secret, 3)}
    )
    assert too_far.status_code == 400
    # A client one step behind (clock drift) is accepted when that step is still unused.
    await session.execute(
        update(UserMfa).where(UserMfa.user_id == owner.user.id).values(last_step=None)
    )
    behind = await client.post(
        "/api/v1/auth/mfa/verify", headers=owner.headers, json={"code": code_at(secret, -1)}
    )
    assert behind.status_code == 200
    assert (await actions(session, owner.user)).count("auth.mfa_failed") == 3


async def test_a_recovery_code_works_once(
    client: AsyncClient, owner: Member, session: AsyncSession
) -> None:
    _, codes = await enable(client, owner)
    pending = await sign_in(client, owner)
    used = await client.post(
        "/api/v1/auth/mfa/verify",
        headers=bearer(pending["access_token"]),
        json={"code": codes[0].upper()},
    )
    assert used.status_code == 200 and used.json()["method"] == "recovery"
    assert used.json()["recovery_codes_left"] == 9
    pending = await sign_in(client, owner)
    again = await client.post(
        "/api/v1/auth/mfa/verify", headers=bearer(pending["access_token"]), json={"code": codes[0]}
    )
    assert again.status_code == 400
    assert "auth.mfa_recovery_code_used" in await actions(session, owner.user)


async def test_wrong_codes_are_throttled_with_retry_after(
    client: AsyncClient, owner: Member, session: AsyncSession
) -> None:
    await enable(client, owner)
    pending = await sign_in(client, owner)
    headers = bearer(pending["access_token"])
    statuses = [
        (await client.post("/api/v1/auth/mfa/verify", headers=headers, json={"code": "123456"}))
        for _ in range(6)
    ]
    assert [r.status_code for r in statuses[:5]] == [400] * 5
    assert statuses[5].status_code == 429 and int(statuses[5].headers["Retry-After"]) > 0
    assert "auth.lockout" in await actions(session, owner.user)


async def test_disable_needs_password_and_code(
    client: AsyncClient, owner: Member, session: AsyncSession
) -> None:
    secret, _ = await enable(client, owner)
    wrong_password = await client.post(
        "/api/v1/auth/mfa/disable",
        headers=owner.headers,
        json={"password": "not-it", "code": code_at(secret, 1)},
    )
    assert wrong_password.status_code == 400
    off = await client.post(
        "/api/v1/auth/mfa/disable",
        headers=owner.headers,
        json={"password": PASSWORD, "code": code_at(secret, 1)},
    )
    assert off.status_code == 204
    assert await session.get(UserMfa, owner.user.id) is None
    assert "auth.mfa_disabled" in await actions(session, owner.user)
    login = await sign_in(client, owner)
    assert "user" in login and "mfa_required" not in login


async def test_superuser_endpoints_need_a_verified_session(
    client: AsyncClient, owner: Member, session: AsyncSession
) -> None:
    (await session.get_one(User, owner.user.id)).is_superuser = True
    await session.flush()
    refused = await client.get("/api/v1/admin/status", headers=owner.headers)
    assert refused.status_code == 403
    assert "two-step verification required" in refused.json()["detail"].lower()
    await enable(client, owner)  # setup and confirm stay reachable; confirm verifies
    assert (await client.get("/api/v1/admin/status", headers=owner.headers)).status_code == 200


async def test_the_practice_can_require_mfa_of_its_members(
    client: AsyncClient, owner: Member, session: AsyncSession, settings: Settings
) -> None:
    therapist = await make_staff(session, settings, owner.organization, Role.THERAPIST)
    too_soon = await client.patch(
        "/api/v1/practice/security", headers=owner.headers, json={"mfa_required": True}
    )
    assert too_soon.status_code == 409
    await enable(client, owner)
    not_owner = await client.patch(
        "/api/v1/practice/security", headers=therapist.headers, json={"mfa_required": True}
    )
    assert not_owner.status_code == 403
    on = await client.patch(
        "/api/v1/practice/security", headers=owner.headers, json={"mfa_required": True}
    )
    assert on.status_code == 200 and on.json() == {"mfa_required": True}
    refused = await client.get("/api/v1/patients", headers=therapist.headers)
    assert refused.status_code == 403 and "requires two-step" in refused.json()["detail"]
    assert (await client.get("/api/v1/auth/me", headers=therapist.headers)).status_code == 200
    assert (await client.get("/api/v1/patients", headers=owner.headers)).status_code == 200
    await enable(client, therapist)
    assert (await client.get("/api/v1/patients", headers=therapist.headers)).status_code == 200


async def test_step_up_is_refused_after_ten_minutes_and_refreshed_by_verify(
    client: AsyncClient, owner: Member, session: AsyncSession, settings: Settings
) -> None:
    operator = await make_superuser(session, settings, owner)
    await session.execute(
        update(AuthSession)
        .where(AuthSession.id == operator.session_id)
        .values(mfa_verified_at=utcnow() - timedelta(minutes=11))
    )
    download = await client.get("/api/v1/admin/backups/x.sql.gz/download", headers=operator.headers)
    assert download.status_code == 403 and "mfa/verify" in download.json()["detail"]
    restore = await client.post(
        "/api/v1/admin/backups/restore",
        headers=operator.headers,
        json={"filename": "x.sql.gz", "confirm": True},
    )
    assert restore.status_code == 403 and restore.json()["error"] == "step_up_required"
    assert "auth.mfa_step_up_refused" in await actions(session, operator.user)
    # Listing is not a step-up action: a verified (if old) session still reads it.
    assert (await client.get("/api/v1/admin/status", headers=operator.headers)).status_code == 200


async def test_verify_on_a_full_session_refreshes_step_up(
    client: AsyncClient, owner: Member, session: AsyncSession, settings: Settings
) -> None:
    secret = await enrol_mfa(session, settings, owner)
    (await session.get_one(User, owner.user.id)).is_superuser = True
    await session.execute(
        update(AuthSession)
        .where(AuthSession.id == owner.session_id)
        .values(mfa_verified_at=utcnow() - timedelta(minutes=30))
    )
    fresh = await client.post(
        "/api/v1/auth/mfa/verify", headers=owner.headers, json={"code": code_at(secret)}
    )
    assert fresh.status_code == 200
    download = await client.get(
        "/api/v1/admin/backups/nothing.sql.gz/download", headers=owner.headers
    )
    assert download.status_code != 403


async def test_console_leads_a_new_operator_through_setup_then_asks_for_codes(
    client: AsyncClient, owner: Member, session: AsyncSession
) -> None:
    (await session.get_one(User, owner.user.id)).is_superuser = True
    await session.flush()
    signed_in = await console_login(client, owner.user.email)
    assert signed_in.status_code == 303 and signed_in.headers["location"] == "/admin"
    status = await client.get("/admin")
    assert status.status_code == 303 and status.headers["location"] == "/admin/mfa/setup"
    page = await client.get("/admin/mfa/setup")
    assert page.status_code == 200 and "Start setup" in page.text
    csrf = hidden_field(page.text, "csrf_token")
    started = await client.post("/admin/mfa/setup", data={"csrf_token": csrf})
    found = re.search(r'<code id="mfa-secret">([A-Z2-7]+)</code>', started.text)
    assert found is not None and "otpauth://totp/" in started.text
    secret = found.group(1)
    forged = await client.post("/admin/mfa/confirm", data={"csrf_token": "x", "code": "1"})
    assert forged.status_code == 403
    wrong = await client.post("/admin/mfa/confirm", data={"csrf_token": csrf, "code": "000000"})
    assert wrong.status_code == 400 and secret in wrong.text  # retry with the same key
    done = await client.post(
        "/admin/mfa/confirm", data={"csrf_token": csrf, "code": code_at(secret)}
    )
    assert done.status_code == 200
    assert len(re.findall(r"<li><code>[a-z2-7]{5}-[a-z2-7]{5}</code></li>", done.text)) == 10
    assert (await client.get("/admin")).status_code == 200
    # Next sign-in: the password, then the code form.
    client.cookies.clear()
    again = await console_login(client, owner.user.email)
    assert again.headers["location"] == "/admin/mfa?next=/admin"
    assert (await client.get("/admin")).headers["location"].startswith("/admin/mfa")
    finished = await console_code(client, secret)
    assert finished.status_code == 303 and finished.headers["location"] == "/admin"
    assert (await client.get("/admin")).status_code == 200
    assert "auth.mfa_enabled" in await actions(session, owner.user)


async def test_console_asks_for_a_fresh_code_before_a_restore(
    client: AsyncClient, owner: Member, session: AsyncSession, settings: Settings
) -> None:
    await make_superuser(session, settings, owner)
    assert owner.mfa_secret is not None
    await console_login(client, owner.user.email, mfa_secret=owner.mfa_secret)
    await session.execute(
        update(AuthSession)
        .where(AuthSession.user_id == owner.user.id)
        .values(mfa_verified_at=utcnow() - timedelta(minutes=11))
    )
    path = "/admin/backups/backup_2026-01-01_00-00.sql.gz/restore"
    stale = await client.get(path)
    assert stale.status_code == 303 and stale.headers["location"] == f"/admin/mfa?next={path}"
    again = await console_code(client, owner.mfa_secret, next_path=path)
    assert again.headers["location"] == path
    assert (await client.get(path)).status_code != 303  # past step-up (no such backup: 404)
    assert "auth.mfa_step_up_refused" in await actions(session, owner.user)
