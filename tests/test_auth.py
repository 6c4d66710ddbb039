"""Register, login, sessions that really end, and the token checks."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import jwt
import pytest
from httpx import AsyncClient
from pwdlib.hashers.bcrypt import BcryptHasher
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from kura.audit.models import AuditEvent
from kura.auth.sessions import bump_auth_epoch
from kura.auth.tokens import AUDIENCE, ISSUER
from kura.config import Settings
from kura.orgs.models import Organization
from kura.users.models import User
from tests.factories import PASSWORD, Member, make_superuser

NEW = {
    "email": "Ana.Garcia@Example.org",
    "password": "una-clave-muy-larga-42",
    "full_name": "Ana García",
    "org_name": "Consulta Ana",
}


async def test_register_creates_practice_and_owner_and_signs_in(client: AsyncClient) -> None:
    response = await client.post("/api/v1/auth/register", json=NEW)
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["token_type"] == "bearer"
    assert body["user"]["email"] == "ana.garcia@example.org"
    assert body["user"]["role"] == "OWNER" and body["user"]["is_superuser"] is False
    assert body["organization"]["name"] == "Consulta Ana"
    assert body["organization"]["timezone"] == "Europe/Madrid"
    assert body["organization"]["locale"] == "es"
    cookie = response.headers["set-cookie"].lower()
    assert "access_token=" in cookie and "httponly" in cookie and "samesite=lax" in cookie
    me = await client.get(
        "/api/v1/auth/me", headers={"Authorization": f"Bearer {body['access_token']}"}
    )
    assert me.status_code == 200
    assert me.json()["user"]["id"] == body["user"]["id"]


async def test_register_rejects_duplicates_case_insensitively(client: AsyncClient) -> None:
    assert (await client.post("/api/v1/auth/register", json=NEW)).status_code == 201
    again = await client.post(
        "/api/v1/auth/register", json={**NEW, "email": "ANA.garcia@example.ORG"}
    )
    assert again.status_code == 409
    assert again.json()["error"] == "conflict"


@pytest.mark.parametrize(
    ("password", "reason"),
    [
        ("short1!", "at least 10"),
        ("password123", "too common"),
        ("Password2024!", "too common"),
        ("aaaaaaaaaaaa", "too common"),
        ("ana.garcia-rules", "email"),
    ],
)
async def test_weak_passwords_are_refused_and_nothing_is_stored(
    client: AsyncClient, session: AsyncSession, password: str, reason: str
) -> None:
    before = await session.scalar(select(func.count()).select_from(Organization))
    response = await client.post("/api/v1/auth/register", json={**NEW, "password": password})
    assert response.status_code == 400
    assert reason in response.json()["detail"]
    assert await session.scalar(select(func.count()).select_from(Organization)) == before


@pytest.mark.parametrize(
    "extra",
    [{"is_superuser": True}, {"role": "OWNER"}, {"organization_id": str(uuid.uuid4())}],
)
async def test_register_refuses_fields_a_user_must_not_set(
    client: AsyncClient, extra: dict[str, object]
) -> None:
    response = await client.post("/api/v1/auth/register", json={**NEW, **extra})
    assert response.status_code == 422


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"email": "not-an-email", "password": "x" * 12, "full_name": "A", "org_name": "B"},
        {**NEW, "full_name": "x" * 201},
        {**NEW, "password": 12345678901},
        {**NEW, "org_name": "   "},
    ],
)
async def test_bad_register_input_is_422(client: AsyncClient, body: dict[str, object]) -> None:
    response = await client.post("/api/v1/auth/register", json=body)
    assert response.status_code == 422
    assert response.json()["error"] == "validation_error"


async def test_login_sets_cookie_and_cookie_authenticates(
    client: AsyncClient, owner: Member
) -> None:
    response = await client.post(
        "/api/v1/auth/login", json={"email": owner.user.email.upper(), "password": PASSWORD}
    )
    assert response.status_code == 200, response.text
    assert response.json()["organization"]["id"] == str(owner.organization.id)
    # httpx keeps the cookie: /me works with it alone.
    me = await client.get("/api/v1/auth/me")
    assert me.status_code == 200
    assert me.json()["user"]["id"] == str(owner.user.id)


async def test_unknown_email_and_wrong_password_answer_the_same(
    client: AsyncClient, owner: Member
) -> None:
    wrong = await client.post(
        "/api/v1/auth/login", json={"email": owner.user.email, "password": "wrong-password-1"}
    )
    unknown = await client.post(
        "/api/v1/auth/login", json={"email": "nobody@example.org", "password": "wrong-password-1"}
    )
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json()


async def test_repeated_failures_lock_the_account_with_retry_after(
    client: AsyncClient, owner: Member, session: AsyncSession
) -> None:
    for _ in range(5):
        failed = await client.post(
            "/api/v1/auth/login", json={"email": owner.user.email, "password": "wrong-password-1"}
        )
        assert failed.status_code == 401
    locked = await client.post(
        "/api/v1/auth/login", json={"email": owner.user.email, "password": PASSWORD}
    )
    assert locked.status_code == 429
    assert locked.json()["error"] == "account_locked"
    assert 0 < int(locked.headers["retry-after"]) <= 15 * 60
    actions = await session.scalars(
        select(AuditEvent.action).where(AuditEvent.target_id == str(owner.user.id))
    )
    assert "auth.lockout" in list(actions)


async def test_an_unknown_email_locks_the_same_way(client: AsyncClient) -> None:
    body = {"email": "ghost@example.org", "password": "wrong-password-1"}
    for _ in range(5):
        assert (await client.post("/api/v1/auth/login", json=body)).status_code == 401
    assert (await client.post("/api/v1/auth/login", json=body)).status_code == 429


async def test_an_ip_with_many_failures_is_slowed(client: AsyncClient) -> None:
    for n in range(20):
        body = {"email": f"spray{n}@example.org", "password": "wrong-password-1"}
        assert (await client.post("/api/v1/auth/login", json=body)).status_code == 401
    slowed = await client.post(
        "/api/v1/auth/login", json={"email": "other@example.org", "password": "x" * 12}
    )
    assert slowed.status_code == 429
    assert slowed.json()["error"] == "too_many_attempts"
    assert int(slowed.headers["retry-after"]) > 0


async def test_logout_kills_the_token_server_side(client: AsyncClient, owner: Member) -> None:
    assert (await client.get("/api/v1/auth/me", headers=owner.headers)).status_code == 200
    out = await client.post("/api/v1/auth/logout", headers=owner.headers)
    assert out.status_code == 200
    after = await client.get("/api/v1/auth/me", headers=owner.headers)
    assert after.status_code == 401
    assert after.json()["error"] == "not_authenticated"


async def test_profile_update_accepts_only_whitelisted_fields(
    client: AsyncClient, owner: Member
) -> None:
    ok = await client.patch(
        "/api/v1/auth/me", headers=owner.headers, json={"full_name": "Dra. Owner", "locale": "en"}
    )
    assert ok.status_code == 200
    assert ok.json()["user"]["full_name"] == "Dra. Owner"
    assert ok.json()["user"]["locale"] == "en"
    for forbidden in ({"is_superuser": True}, {"role": "OWNER"}, {"email": "x@example.org"}):
        refused = await client.patch("/api/v1/auth/me", headers=owner.headers, json=forbidden)
        assert refused.status_code == 422
    me = (await client.get("/api/v1/auth/me", headers=owner.headers)).json()
    assert me["user"]["is_superuser"] is False


async def test_password_change_ends_every_other_session(client: AsyncClient, owner: Member) -> None:
    second = await client.post(
        "/api/v1/auth/login", json={"email": owner.user.email, "password": PASSWORD}
    )
    other_token = second.json()["access_token"]
    changed = await client.post(
        "/api/v1/auth/change-password",
        headers=owner.headers,
        json={"current_password": PASSWORD, "new_password": "brand-new-secret-77"},
    )
    assert changed.status_code == 200, changed.text
    new_token = changed.json()["access_token"]
    client.cookies.clear()
    for dead in (owner.token, other_token):
        gone = await client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {dead}"})
        assert gone.status_code == 401
    alive = await client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {new_token}"})
    assert alive.status_code == 200
    old = await client.post(
        "/api/v1/auth/login", json={"email": owner.user.email, "password": PASSWORD}
    )
    assert old.status_code == 401


async def test_wrong_current_password_changes_nothing(client: AsyncClient, owner: Member) -> None:
    response = await client.post(
        "/api/v1/auth/change-password",
        headers=owner.headers,
        json={"current_password": "not-it-at-all", "new_password": "brand-new-secret-77"},
    )
    assert response.status_code == 400
    assert (await client.get("/api/v1/auth/me", headers=owner.headers)).status_code == 200


def _forge(settings: Settings, member: Member, **changes: object) -> str:
    claims = jwt.decode(member.token, options={"verify_signature": False}, algorithms=["HS256"])
    claims.update(changes)
    return jwt.encode(claims, settings.signing_key.get_secret_value(), algorithm="HS256")


async def test_tampered_expired_foreign_and_unsigned_tokens_are_refused(
    client: AsyncClient, owner: Member, settings: Settings
) -> None:
    header, payload, signature = owner.token.split(".")
    past = datetime.now(UTC) - timedelta(minutes=1)
    unsigned = jwt.encode(
        jwt.decode(owner.token, options={"verify_signature": False}),
        key="",
        algorithm="none",
    )
    candidates = [
        f"{header}.{payload}.{signature[:-2]}xx",
        _forge(settings, owner, exp=past),
        _forge(settings, owner, aud="someone-else"),
        _forge(settings, owner, iss="evil"),
        _forge(settings, owner, sv=99),
        _forge(settings, owner, sid=str(uuid.uuid4())),
        jwt.encode(
            {"sub": str(owner.user.id), "iss": ISSUER, "aud": AUDIENCE},
            "another-signing-key-of-32-bytes-or-more",
        ),
        unsigned,
        "not-a-jwt",
    ]
    for token in candidates:
        response = await client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 401, token
        assert response.json()["error"] == "not_authenticated"


async def test_auth_epoch_invalidates_every_session(
    client: AsyncClient, owner: Member, session: AsyncSession
) -> None:
    await bump_auth_epoch(session)
    await session.flush()
    assert (await client.get("/api/v1/auth/me", headers=owner.headers)).status_code == 401
    fresh = await client.post(
        "/api/v1/auth/login", json={"email": owner.user.email, "password": PASSWORD}
    )
    token = fresh.json()["access_token"]
    me = await client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200


async def test_bcrypt_hashes_are_accepted_and_upgraded(
    client: AsyncClient, owner: Member, session: AsyncSession
) -> None:
    await session.execute(
        text("UPDATE user_account SET password_hash = :h WHERE id = :id"),
        {"h": BcryptHasher().hash(PASSWORD), "id": owner.user.id},
    )
    response = await client.post(
        "/api/v1/auth/login", json={"email": owner.user.email, "password": PASSWORD}
    )
    assert response.status_code == 200
    stored = await session.scalar(
        select(User.password_hash)
        .where(User.id == owner.user.id)
        .execution_options(populate_existing=True)
    )
    assert stored is not None and stored.startswith("$argon2")


async def test_no_session_is_401(client: AsyncClient) -> None:
    response = await client.get("/api/v1/auth/me")
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"


async def test_deleting_your_own_account(
    client: AsyncClient, owner: Member, session: AsyncSession, settings: Settings
) -> None:
    from kura.users.models import Role
    from tests.factories import make_staff

    wrong = await client.request(
        "DELETE", "/api/v1/auth/me", headers=owner.headers, json={"password": "nope-nope-nope"}
    )
    assert wrong.status_code == 400
    therapist = await make_staff(session, settings, owner.organization, Role.THERAPIST)
    last_owner = await client.request(
        "DELETE", "/api/v1/auth/me", headers=owner.headers, json={"password": PASSWORD}
    )
    assert last_owner.status_code == 400  # the team would be left without an owner
    gone = await client.request(
        "DELETE", "/api/v1/auth/me", headers=therapist.headers, json={"password": PASSWORD}
    )
    assert gone.status_code == 204
    assert (await client.get("/api/v1/auth/me", headers=therapist.headers)).status_code == 401
    solo = await client.request(
        "DELETE", "/api/v1/auth/me", headers=owner.headers, json={"password": PASSWORD}
    )
    assert solo.status_code == 204
    assert (
        await session.scalar(select(Organization).where(Organization.id == owner.organization.id))
        is None
    )


async def test_operator_status_is_for_superusers_and_holds_no_values(
    client: AsyncClient, owner: Member, session: AsyncSession, settings: Settings
) -> None:
    assert (await client.get("/api/v1/admin/status", headers=owner.headers)).status_code == 403
    await make_superuser(session, settings, owner)
    status = await client.get("/api/v1/admin/status", headers=owner.headers)
    assert status.status_code == 200
    body = status.json()
    assert body["migration_revision"] and body["stripe_mode"] == "not configured"
    assert {i["name"] for i in body["integrations"]} >= {"database", "stripe", "sentry"}
