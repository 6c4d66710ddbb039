"""Email texts in Spanish and English, chosen by the recipient's locale."""

from __future__ import annotations

from kura.notify.email import Email

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
        "{org} te invita a KURA OS",
        "Hola {name}:\n\n{org} te ha dado acceso a KURA OS. Elige tu contraseña con este "
        "enlace (válido 72 horas):\n\n{link}\n\n— KURA OS",
    ),
    ("INVITE", "en"): (
        "{org} invited you to KURA OS",
        "Hello {name},\n\n{org} has given you access to KURA OS. Choose your password with "
        "this link (valid for 72 hours):\n\n{link}\n\n— KURA OS",
    ),
}


def password_link_email(
    *, purpose: str, locale: str, to: str, name: str, org: str, link: str
) -> Email:
    language = locale if locale in ("es", "en") else "es"
    subject, body = _PASSWORD_LINK[(purpose, language)]
    values = {"name": name, "org": org, "link": link}
    return Email(to=to, subject=subject.format(**values), text=body.format(**values))
