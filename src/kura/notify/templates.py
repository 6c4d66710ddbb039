"""Account emails (reset, invite, verify) in the recipient's locale; texts in kura.i18n."""

from __future__ import annotations

import re
from typing import Any

from kura.i18n import text
from kura.inputs import strip_control_characters
from kura.notify.email import Email

# host-like tokens: word.word (e.g. evil.example, www.bank.com) — shown, never linked
_DOMAIN = re.compile(r"\b[\w-]+(?:\.[\w-]+)+\b")

# Which emails.<kind>_subject / _body a purpose sends.
_PASSWORD_LINK_KIND = {"RESET": "reset", "INVITE": "invite", "VERIFY": "verify"}


def display_text(value: str, *, limit: int = 60) -> str:
    """Text someone else chose (a practice or person name) as an email may show it: one line,
    bounded, and with anything that looks like a web address defanged so it is not a link."""
    flat = " ".join(strip_control_characters(value).split())
    if len(flat) > limit:
        flat = flat[: limit - 1].rstrip() + "…"
    flat = flat.replace("://", "[:]//")
    return _DOMAIN.sub(lambda m: m.group(0).replace(".", "[.]"), flat)


def password_link_email(
    *, purpose: str, locale: str, to: str, name: str, org: str, link: str, inviter: str = ""
) -> Email:
    language = locale if locale in ("es", "en") else "es"
    kind = _PASSWORD_LINK_KIND[purpose]
    values: dict[str, Any] = {
        "name": display_text(name),
        "org": display_text(org),
        # built by the caller from a verified account
        "inviter": inviter or text(language, "emails.someone"),
        "link": link,
    }
    return Email(
        to=to,
        subject=text(language, f"emails.{kind}_subject", **values),
        text=text(language, f"emails.{kind}_body", **values),
    )
