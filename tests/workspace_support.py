"""Driving the therapist workspace (/app) over HTTP as a browser would: forms, cookies, CSRF."""

from __future__ import annotations

import re

from httpx import AsyncClient, Response

from tests.factories import PASSWORD, fresh_codes

_HIDDEN = re.compile(r'name="(csrf_token|form_token|next|token)" value="([^"]*)"')


def hidden(html: str, name: str) -> str:
    for found, value in _HIDDEN.findall(html):
        if found == name:
            return str(value)
    raise AssertionError(f"no hidden {name} in the page")


async def sign_in(
    browser: AsyncClient, email: str, password: str = PASSWORD, *, next_path: str = "/app"
) -> Response:
    form = await browser.get("/app/login", params={"next": next_path})
    assert form.status_code == 200, form.text
    return await browser.post(
        "/app/login",
        data={
            "email": email,
            "password": password,
            "form_token": hidden(form.text, "form_token"),
            "next": hidden(form.text, "next"),
        },
    )


async def answer_code(browser: AsyncClient, secret: str, next_path: str = "/app") -> Response:
    page = await browser.get("/app/mfa", params={"next": next_path})
    assert page.status_code == 200, page.text
    for code in fresh_codes(secret):
        answer = await browser.post(
            "/app/mfa",
            data={"csrf_token": hidden(page.text, "csrf_token"), "code": code, "next": next_path},
        )
        if answer.status_code == 303:
            return answer
    raise AssertionError("no code was accepted")
