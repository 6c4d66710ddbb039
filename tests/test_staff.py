"""The OWNER manages the team; superusers are made only by superusers (or the CLI)."""

from __future__ import annotations

from httpx import AsyncClient
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from kura.config import Settings
from kura.users.models import Role
from tests.factories import Member, make_owner, make_staff, make_superuser


async def test_owner_adds_staff_who_get_an_invitation(
    client: AsyncClient, owner: Member, connection: AsyncConnection
) -> None:
    response = await client.post(
        "/api/v1/staff",
        headers=owner.headers,
        json={"email": "Nueva@Example.org", "full_name": "Nueva Terapeuta", "role": "THERAPIST"},
    )
    assert response.status_code == 201, response.text
    assert response.json()["email"] == "nueva@example.org"
    jobs = await connection.execute(
        text(
            "SELECT count(*) FROM procrastinate_jobs j JOIN password_token t "
            "ON t.id::text = j.args->>'token_id' WHERE t.purpose = 'INVITE'"
        )
    )
    assert jobs.scalar_one() == 1
    team = (await client.get("/api/v1/staff", headers=owner.headers)).json()
    assert team["total"] == 2
    assert {m["email"] for m in team["items"]} == {owner.user.email, "nueva@example.org"}


async def test_only_the_owner_manages_staff(
    client: AsyncClient, owner: Member, session: AsyncSession, settings: Settings
) -> None:
    therapist = await make_staff(session, settings, owner.organization, Role.THERAPIST)
    add = await client.post(
        "/api/v1/staff",
        headers=therapist.headers,
        json={"email": "x@example.org", "full_name": "X", "role": "OWNER"},
    )
    assert add.status_code == 403
    promote = await client.patch(
        f"/api/v1/staff/{therapist.user.id}", headers=therapist.headers, json={"role": "OWNER"}
    )
    assert promote.status_code == 403


async def test_role_change_and_deactivation_end_sessions(
    client: AsyncClient, owner: Member, session: AsyncSession, settings: Settings
) -> None:
    therapist = await make_staff(session, settings, owner.organization, Role.THERAPIST)
    url = f"/api/v1/staff/{therapist.user.id}"
    changed = await client.patch(url, headers=owner.headers, json={"role": "ASSISTANT"})
    assert changed.json()["role"] == "ASSISTANT"
    assert (await client.get("/api/v1/auth/me", headers=therapist.headers)).status_code == 200
    off = await client.patch(url, headers=owner.headers, json={"is_active": False})
    assert off.json()["is_active"] is False
    assert (await client.get("/api/v1/auth/me", headers=therapist.headers)).status_code == 401


async def test_the_last_owner_cannot_be_demoted_or_deactivated(
    client: AsyncClient, owner: Member
) -> None:
    url = f"/api/v1/staff/{owner.user.id}"
    for body in ({"role": "THERAPIST"}, {"is_active": False}):
        response = await client.patch(url, headers=owner.headers, json=body)
        assert response.status_code == 400
        assert "owner" in response.json()["detail"]


async def test_superuser_rights_only_from_a_superuser(
    client: AsyncClient, owner: Member, session: AsyncSession, settings: Settings
) -> None:
    other = await make_owner(session, settings)
    url = f"/api/v1/admin/users/{other.user.id}"
    refused = await client.patch(url, headers=owner.headers, json={"is_superuser": True})
    assert refused.status_code == 403
    await make_superuser(session, settings, owner)
    granted = await client.patch(url, headers=owner.headers, json={"is_superuser": True})
    assert granted.status_code == 200 and granted.json()["is_superuser"] is True
    self_revoke = await client.patch(
        f"/api/v1/admin/users/{owner.user.id}", headers=owner.headers, json={"is_superuser": False}
    )
    assert self_revoke.status_code == 400
