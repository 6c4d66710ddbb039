"""Email texts in Spanish and English, chosen by the recipient's locale."""

from __future__ import annotations

import re

from kura.inputs import strip_control_characters
from kura.notify.email import Email

# host-like tokens: word.word (e.g. evil.example, www.bank.com) — shown, never linked
_DOMAIN = re.compile(r"\b[\w-]+(?:\.[\w-]+)+\b")

_PASSWORD_LINK = {
    ("RESET", "es"): (
        "Restablece tu contraseña de KURA OS",
        "Hola {name}:\n\nHemos recibido una solicitud para restablecer tu contraseña.\n"
        "Usa este enlace en la próxima hora:\n\n{link}\n\n"
        "Si no lo has pedido tú, ignora este mensaje; tu contraseña no cambiará.\n\n— KURA OS",
    ),
    ("RESET", "en"): (
        "Reset your KURA OS password",
        "Hello {name},\n\nWe received a request to reset your password.\n"
        "Use this link within the next hour:\n\n{link}\n\n"
        "If you did not ask for this, ignore this message; your password will not change.\n\n"
        "— KURA OS",
    ),
    ("INVITE", "es"): (
        "Invitación a un equipo en KURA OS",
        "Hola {name}:\n\n{inviter} te ha invitado a unirte a la consulta «{org}» en KURA OS.\n"
        "Si conoces a esta persona y esperabas la invitación, elige tu contraseña con este "
        "enlace (válido 72 horas):\n\n{link}\n\n"
        "Si no la conoces, ignora este mensaje: no se creará nada sin ti. KURA OS nunca te "
        "pedirá datos bancarios ni contraseñas por correo.\n\n— KURA OS",
    ),
    ("INVITE", "en"): (
        "Invitation to a team on KURA OS",
        "Hello {name},\n\n{inviter} invited you to join the practice \u201c{org}\u201d on KURA "
        "OS.\nIf you know this person and expected the invitation, choose your password with "
        "this link (valid for 72 hours):\n\n{link}\n\n"
        "If you do not, ignore this message: nothing happens without you. KURA OS never asks "
        "for bank details or passwords by email.\n\n— KURA OS",
    ),
    ("VERIFY", "es"): (
        "Confirma tu correo en KURA OS",
        "Hola {name}:\n\nConfirma que esta dirección es tuya con este enlace (válido 48 "
        "horas):\n\n{link}\n\nHasta entonces no podrás añadir pacientes ni invitar a tu "
        "equipo. Si no has creado una cuenta, ignora este mensaje.\n\n— KURA OS",
    ),
    ("VERIFY", "en"): (
        "Confirm your email for KURA OS",
        "Hello {name},\n\nConfirm this address is yours with this link (valid for 48 "
        "hours):\n\n{link}\n\nUntil then you cannot add patients or invite your team. If you "
        "did not create an account, ignore this message.\n\n— KURA OS",
    ),
}


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
    subject, body = _PASSWORD_LINK[(purpose, language)]
    someone = "Alguien" if language == "es" else "Someone"
    values = {
        "name": display_text(name),
        "org": display_text(org),
        "inviter": inviter or someone,  # built by the caller from a verified account
        "link": link,
    }
    return Email(to=to, subject=subject.format(**values), text=body.format(**values))
