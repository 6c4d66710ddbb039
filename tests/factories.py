"""Small factories: real rows through our own services, and a signed-in token for them."""

from __future__ import annotations

import itertools
import time
import uuid
from dataclasses import dataclass

import pyotp
from sqlalchemy.ext.asyncio import AsyncSession

from kura.auth.mfa_models import UserMfa
from kura.auth.mfa_secrets import seal
from kura.auth.models import AuthSession
from kura.auth.passwords import hash_password_sync
from kura.auth.sessions import open_session, utcnow
from kura.config import Settings
from kura.orgs.models import Organization
from kura.patients.models import Patient
from kura.users import service as users
from kura.users.models import Role, User

PASSWORD = "correct-horse-battery-9"
_counter = itertools.count(1)


@dataclass
class Member:
    user: User
    organization: Organization
    token: str
    session_id: uuid.UUID | None = None
    mfa_secret: str | None = None  # set by enrol_mfa: tests make codes with pyotp

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


async def make_owner(
    session: AsyncSession, settings: Settings, *, org_name: str | None = None
) -> Member:
    n = next(_counter)
    user, organization = await users.create_organization_with_owner(
        session,
        org_name=org_name or f"Practice {n}",
        email=f"owner{n}@example.org",
        full_name=f"Owner {n}",
        password_hash=hash_password_sync(PASSWORD),
    )
    user.email_verified_at = utcnow()
    issued = await open_session(session, settings, user, ip="127.0.0.1")
    return Member(user, organization, issued.access_token, issued.session_id)


async def make_staff(
    session: AsyncSession, settings: Settings, organization: Organization, role: Role
) -> Member:
    n = next(_counter)
    user = await users.add_staff(
        session,
        organization=organization,
        email=f"{role.value.lower()}{n}@example.org",
        full_name=f"{role.value.title()} {n}",
        role=role,
    )
    user.password_hash = hash_password_sync(PASSWORD)
    user.email_verified_at = utcnow()  # as after accepting the invitation
    issued = await open_session(session, settings, user, ip="127.0.0.1")
    await session.flush()
    return Member(user, organization, issued.access_token, issued.session_id)


async def enrol_mfa(session: AsyncSession, settings: Settings, member: Member) -> str:
    """MFA on for the member (as after setup + confirm) and their session verified just now;
    returns the base32 secret so a test can make codes with pyotp."""
    secret = pyotp.random_base32()
    now = utcnow()
    key = settings.signing_key.get_secret_value()
    session.add(UserMfa(user_id=member.user.id, secret_sealed=seal(key, secret), enabled_at=now))
    if member.session_id is not None:
        (await session.get_one(AuthSession, member.session_id)).mfa_verified_at = now
    await session.flush()
    member.mfa_secret = secret
    return secret


def fresh_codes(secret: str) -> list[str]:
    """The codes accepted now, oldest first (each step is accepted once)."""
    totp = pyotp.TOTP(secret)
    step = int(time.time() // totp.interval)
    return [totp.generate_otp(s) for s in (step - 1, step, step + 1)]


async def make_superuser(session: AsyncSession, settings: Settings, member: Member) -> Member:
    """The member becomes a platform operator whose session passed MFA (SuperAdmin needs it)."""
    (await session.get_one(User, member.user.id)).is_superuser = True
    await enrol_mfa(session, settings, member)
    return member


TEST_WHATSAPP_NUMBER = "+34911000000"  # the shared number the webhook tests write to


async def make_patient(
    session: AsyncSession, organization: Organization, **fields: object
) -> Patient:
    n = next(_counter)
    values: dict[str, object] = {"full_name": f"Paciente {n}", "phone": f"+3460000{n:04d}"}
    values.update(fields)
    if values.get("monitoring_consent"):
        # An enrolled patient, as if they had sent their code from their phone (the webhook
        # path itself is tested in test_enrollment.py).
        values.setdefault("monitoring_status", "active")
        values.setdefault("monitoring_phone", values["phone"])
        values.setdefault("monitoring_number", TEST_WHATSAPP_NUMBER)
    patient = Patient(organization_id=organization.id, **values)
    session.add(patient)
    await session.flush()
    return patient
