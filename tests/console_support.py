"""Driving the operator console over HTTP as a browser would: forms, cookies, CSRF tokens."""

from __future__ import annotations

import re

from httpx import AsyncClient, Response

from tests.factories import PASSWORD

_HIDDEN = re.compile(r'name="(csrf_token|login_token)" value="([^"]+)"')


def hidden_field(html: str, name: str) -> str:
    for found, value in _HIDDEN.findall(html):
        if found == name:
            return str(value)
    raise AssertionError(f"no hidden {name} in the page")


async def console_login(
    client: AsyncClient, email: str, password: str = PASSWORD, *, next_path: str = "/admin"
) -> Response:
    """Fill the sign-in form; returns the response to the form post."""
    form = await client.get("/admin/login", params={"next": next_path})
    assert form.status_code == 200, form.text
    return await client.post(
        "/admin/login",
        data={
            "email": email,
            "password": password,
            "login_token": hidden_field(form.text, "login_token"),
            "next": next_path,
        },
    )


async def csrf_of(client: AsyncClient, page: str = "/admin/backups") -> str:
    response = await client.get(page)
    assert response.status_code == 200, response.text
    return hidden_field(response.text, "csrf_token")
