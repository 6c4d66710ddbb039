"""Driving the operator console over HTTP as a browser would: forms, cookies, CSRF tokens."""

from __future__ import annotations

import re

from httpx import AsyncClient, Response

from tests.factories import PASSWORD, fresh_codes

_HIDDEN = re.compile(r'name="(csrf_token|login_token)" value="([^"]+)"')


def hidden_field(html: str, name: str) -> str:
    for found, value in _HIDDEN.findall(html):
        if found == name:
            return str(value)
    raise AssertionError(f"no hidden {name} in the page")


async def console_login(
    client: AsyncClient,
    email: str,
    password: str = PASSWORD,
    *,
    next_path: str = "/admin",
    mfa_secret: str | None = None,
) -> Response:
    """Fill the sign-in form (and the code form, given the secret); returns the last post."""
    form = await client.get("/admin/login", params={"next": next_path})
    assert form.status_code == 200, form.text
    signed_in = await client.post(
        "/admin/login",
        data={
            "email": email,
            "password": password,
            "login_token": hidden_field(form.text, "login_token"),
            "next": next_path,
        },
    )
    if mfa_secret is None or not signed_in.headers.get("location", "").startswith("/admin/mfa"):
        return signed_in
    return await console_code(client, mfa_secret, next_path=next_path)


async def console_code(client: AsyncClient, secret: str, *, next_path: str = "/admin") -> Response:
    """Answer the code form with the first code not used yet."""
    page = await client.get("/admin/mfa", params={"next": next_path})
    assert page.status_code == 200, page.text
    csrf = hidden_field(page.text, "csrf_token")
    for code in fresh_codes(secret):
        answer = await client.post(
            "/admin/mfa", data={"csrf_token": csrf, "code": code, "next": next_path}
        )
        if answer.status_code == 303:
            return answer
    raise AssertionError("no code was accepted")


async def csrf_of(client: AsyncClient, page: str = "/admin/backups") -> str:
    response = await client.get(page)
    assert response.status_code == 200, response.text
    return hidden_field(response.text, "csrf_token")
