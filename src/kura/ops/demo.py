"""`kura demo`: a realistic practice to look around in, seeded through the product's own API.

Only the accounts are made directly (with confirmed emails and a known password, as if the
invitations had been accepted); everything else — services, patients, notes, bookings, a
WhatsApp conversation that raises an AletheIA alert, the morning briefing — goes through the
HTTP API in-process, so the demo shows exactly what the product does. Idempotent: a second run
finds the practice and changes nothing. Refused in production.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from sqlalchemy import select

from kura.auth.passwords import hash_password_sync
from kura.auth.sessions import utcnow
from kura.config import Settings
from kura.db.engine import Database
from kura.errors import ConfigError, StartupError
from kura.users import service as users
from kura.users.models import Role, User

PRACTICE = "Consulta Demo Alba"
# Printed by `kura demo` and in the README: a sample practice's shared password, not a secret.
PASSWORD = "demo-kura-2026"  # noqa: S105
OWNER = ("lucia.demo@kuraos.ai", "Lucía Martín Peña")
THERAPIST = ("jordi.demo@kuraos.ai", "Jordi Puig i Serra")
ASSISTANT = ("nerea.demo@kuraos.ai", "Nerea Ibáñez")
ZONE = ZoneInfo("Europe/Madrid")
# (name, email, phone, language, monitored)
PATIENTS = [
    ("María Fernández López", "maria.fernandez@example.org", "+34600111201", "es", True),
    ("José Núñez Gil", "jose.nunez@example.org", "+34600111202", "es", False),
    ("Lluís Gràcia Vidal", "lluis.gracia@example.org", "+34600111203", "ca", False),
    ("Ana Beltrán Ruiz", None, "+34600111204", "es", False),
    ("Emma Wilson", "emma.wilson@example.org", "+447911123456", "en", False),
    ("Iñaki Etxeberria", "inaki.etxeberria@example.org", "+34600111206", "es", False),
]
NOTE = (
    "Primera sesión. Refiere insomnio de conciliación desde hace tres meses y estrés laboral. "
    "Acordamos registro de sueño y técnica de respiración 4-7-8 antes de dormir."
)
CONVERSATION = [
    "Hola, ya tengo el registro de sueño de esta semana",
    "Esta semana ha sido horrible, no puedo más. A veces pienso que todos estarían mejor sin mí",
]


@dataclass
class DemoPractice:
    created: bool
    practice: str = PRACTICE
    logins: list[tuple[str, str, str]] = field(default_factory=list)  # (role, email, password)
    counts: dict[str, int] = field(default_factory=dict)


async def seed_demo(settings: Settings, database: Database) -> DemoPractice:
    """Create the demo practice (once) in this database."""
    if settings.is_production:
        raise ConfigError("kura demo seeds a sample practice: it never runs in production.")
    from kura.app import create_app

    app = create_app(settings.model_copy(update={"kura_run_worker": False}), database=database)
    base_url = settings.public_base_url or "http://127.0.0.1:8000"
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url=base_url) as client,
    ):
        logins = [("OWNER", OWNER[0], PASSWORD), ("THERAPIST", THERAPIST[0], PASSWORD)]
        logins.append(("ASSISTANT", ASSISTANT[0], PASSWORD))
        async with database.sessionmaker() as session, session.begin():
            if await session.scalar(select(User.id).where(User.email == OWNER[0])):
                return DemoPractice(created=False, logins=logins)
            owner, organization = await users.create_organization_with_owner(
                session,
                org_name=PRACTICE,
                email=OWNER[0],
                full_name=OWNER[1],
                password_hash=hash_password_sync(PASSWORD),
            )
            owner.email_verified_at = utcnow()
            for (email, name), role in ((THERAPIST, Role.THERAPIST), (ASSISTANT, Role.ASSISTANT)):
                member = await users.add_staff(
                    session, organization=organization, email=email, full_name=name, role=role
                )
                member.password_hash = hash_password_sync(PASSWORD)
                member.email_verified_at = utcnow()
        api = _Api(client, await _login(client, OWNER[0]))
        therapist = await _login(client, THERAPIST[0])
        counts = await _fill(api, _Api(client, therapist), settings)
    return DemoPractice(created=True, logins=logins, counts=counts)


class _Api:
    def __init__(self, client: httpx.AsyncClient, token: str) -> None:
        self.client = client
        self.headers = {"Authorization": f"Bearer {token}"}

    async def call(self, method: str, path: str, **kwargs: Any) -> Any:
        response = await self.client.request(method, path, headers=self.headers, **kwargs)
        _check(response, f"{method} {path}")
        return response.json() if response.content else None


def _check(response: httpx.Response, what: str) -> None:
    if response.status_code >= 400:
        detail = response.json().get("detail") if response.content else ""
        raise StartupError(
            f"the demo could not be seeded: {what} answered {response.status_code} ({detail})"
        )


async def _login(client: httpx.AsyncClient, email: str) -> str:
    response = await client.post("/api/v1/auth/login", json={"email": email, "password": PASSWORD})
    response.raise_for_status()
    return str(response.json()["access_token"])


async def _fill(owner: _Api, therapist: _Api, settings: Settings) -> dict[str, int]:
    staff = await owner.call("GET", "/api/v1/staff", params={"page_size": 200})
    therapist_id = next(m["id"] for m in staff["items"] if m["role"] == "THERAPIST")
    services = [
        await owner.call("POST", "/api/v1/services", json=body)
        for body in (
            {"name": "Sesión individual", "duration_minutes": 50, "price_cents": 6000},
            {"name": "Primera consulta", "duration_minutes": 60, "price_cents": 0},
        )
    ]
    patients = []
    for name, email, phone, language, monitored in PATIENTS:
        body: dict[str, object] = {"full_name": name, "email": email, "phone": phone}
        body |= {"language": language, "monitoring_consent": monitored}
        body |= {"assigned_therapist_id": therapist_id}
        patients.append(await owner.call("POST", "/api/v1/patients", json=body))
    notes = [
        await therapist.call(
            "POST",
            f"/api/v1/patients/{patient['id']}/notes",
            json={"type": "SESSION_NOTE", "content": NOTE},
        )
        for patient in patients[:3]
    ]
    for note in notes[:2]:  # two signed (one with an addendum), the third still a draft
        await therapist.call("POST", f"/api/v1/notes/{note['id']}/sign")
    await therapist.call(
        "POST",
        f"/api/v1/notes/{notes[0]['id']}/addenda",
        json={"content": "Añadido: acordamos revisar el diario de sueño la próxima sesión."},
    )
    today = datetime.now(ZONE).date()
    slots = [(0, time(10)), (0, time(12, 30)), (0, time(17)), (1, time(9, 30)), (2, time(16))]
    for index, (days, start) in enumerate(slots):
        starts_at = datetime.combine(today + timedelta(days=days), start, ZONE).astimezone(UTC)
        await owner.call(
            "POST",
            "/api/v1/bookings",
            json={
                "patient_id": patients[index % len(patients)]["id"],
                "service_id": services[index % 2]["id"],
                "therapist_id": therapist_id,
                "starts_at": starts_at.isoformat(),
            },
        )
    messages = await _whatsapp(owner, patients[0], settings)
    briefing = await therapist.call("GET", "/api/v1/insights/daily-briefing")
    alerts = await owner.call("GET", "/api/v1/monitoring/risk-alerts", params={"page_size": 1})
    return {
        "patients": len(patients),
        "notes": 3,
        "bookings": len(slots),
        "whatsapp messages": messages,
        "risk alerts": alerts["total"],
        "morning briefings with audio": int(briefing["audio_url"] is not None),
    }


async def _whatsapp(owner: _Api, patient: dict[str, Any], settings: Settings) -> int:
    """The patient enrolls with their code from their phone, then writes: the second message
    is a crisis message that AletheIA flags for the therapist."""
    from twilio.request_validator import RequestValidator

    from kura.config import secret_value

    enrollment = await owner.call("POST", f"/api/v1/patients/{patient['id']}/monitoring/enrollment")
    number = settings.twilio_whatsapp_number or "+34911000000"
    token = secret_value(settings.twilio_auth_token)
    path = "/api/v1/webhooks/whatsapp"
    bodies = [enrollment["code"], *CONVERSATION]
    for body in bodies:
        params = {
            "MessageSid": "SM" + secrets.token_hex(16),
            "AccountSid": "AC" + "0" * 32,
            "From": f"whatsapp:{patient['phone']}",
            "To": f"whatsapp:{number}",
            "Body": body,
            "NumMedia": "0",
        }
        headers = {}
        if token is not None:  # signed as Twilio signs, when the webhook checks signatures
            url = f"{owner.client.base_url}".rstrip("/") + path
            headers["X-Twilio-Signature"] = RequestValidator(token).compute_signature(url, params)
        _check(await owner.client.post(path, data=params, headers=headers), "the WhatsApp webhook")
    return len(CONVERSATION)
