"""Two-step verification (TOTP, RFC 6238) with recovery codes: set up, confirm, check, disable.

Codes are throttled like passwords (kura.auth.throttle) and never accepted twice: the last
accepted 30-second step is stored and that step and earlier ones are refused; a recovery code
is spent by the UPDATE that accepts it. Secrets never reach logs, errors or audit details."""

from __future__ import annotations

import hmac
import time
import uuid
from dataclasses import dataclass
from typing import Literal

import pyotp
from sqlalchemy import delete, exists, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from kura.audit.service import AuditAction, record
from kura.auth import throttle
from kura.auth.mfa_models import MfaRecoveryCode, UserMfa
from kura.auth.mfa_secrets import (
    new_recovery_code,
    recovery_code_hash,
    seal,
    unseal,
)
from kura.auth.models import AuthSession
from kura.auth.sessions import Authenticated, revoke_all_sessions, utcnow
from kura.config import Settings
from kura.errors import Conflict, KuraError
from kura.users.models import User

ISSUER = "KURA OS"
RECOVERY_CODES = 10
DRIFT_STEPS = 1  # a code from the previous or the next 30 seconds is accepted too


class InvalidMfaCode(KuraError):
    status_code = 400
    code = "invalid_mfa_code"


class MfaNotEnabled(Conflict):
    code = "mfa_not_enabled"


@dataclass(frozen=True)
class MfaFailure:
    """A refused code is an outcome to commit (counters, audit), not a rollback."""

    error: KuraError


@dataclass(frozen=True)
class CodeAccepted:
    kind: Literal["totp", "recovery"]


def _signing_key(settings: Settings) -> str:
    return settings.signing_key.get_secret_value()


async def enrolment(session: AsyncSession, user_id: uuid.UUID) -> UserMfa | None:
    return await session.get(UserMfa, user_id)


async def is_enabled(session: AsyncSession, user_id: uuid.UUID) -> bool:
    enabled = await session.scalar(
        select(exists().where(UserMfa.user_id == user_id, UserMfa.enabled_at.is_not(None)))
    )
    return bool(enabled)


@dataclass(frozen=True)
class PendingSetup:
    secret: str
    otpauth_uri: str


async def start_setup(session: AsyncSession, settings: Settings, user: User) -> PendingSetup:
    """A new secret, pending until a code from it is confirmed (replaces an unconfirmed one)."""
    row = await enrolment(session, user.id)
    if row is not None and row.enabled_at is not None:
        raise Conflict("Two-step verification is already on. Disable it first to start over.")
    secret = pyotp.random_base32()
    sealed = seal(_signing_key(settings), secret)
    if row is None:
        session.add(UserMfa(user_id=user.id, secret_sealed=sealed))
    else:
        row.secret_sealed, row.last_step = sealed, None
    await session.flush()
    return _pending(user, secret)


def _pending(user: User, secret: str) -> PendingSetup:
    uri = pyotp.TOTP(secret).provisioning_uri(name=user.email, issuer_name=ISSUER)
    return PendingSetup(secret, uri)


async def pending_setup(
    session: AsyncSession, settings: Settings, user: User
) -> PendingSetup | None:
    """The unconfirmed secret again (to retry a mistyped first code), or None."""
    row = await enrolment(session, user.id)
    if row is None or row.enabled_at is not None:
        return None
    return _pending(user, unseal(_signing_key(settings), row.secret_sealed))


async def _audit(
    session: AsyncSession,
    action: AuditAction,
    user: User,
    *,
    ip: str | None,
    details: dict[str, object] | None = None,
) -> None:
    await record(
        session,
        action,
        organization_id=user.organization_id,
        actor_id=user.id,
        target_type="user",
        target_id=user.id,
        ip=ip,
        details=details,
    )


def _subject(user: User, ip: str | None) -> str:
    return f"{user.id}\n{ip or '-'}"


async def _check_throttle(session: AsyncSession, user: User, ip: str | None) -> None:
    now = utcnow()
    if ip:
        await throttle.check(session, throttle.LOGIN_IP, ip, now=now)
    await throttle.check(session, throttle.MFA_USER_IP, _subject(user, ip), now=now)
    await throttle.check(session, throttle.MFA_USER, str(user.id), now=now)


async def _failed(
    session: AsyncSession, user: User, *, ip: str | None, purpose: str, message: str
) -> MfaFailure:
    now = utcnow()
    if ip:
        await throttle.record_failure(session, throttle.LOGIN_IP, ip, now=now)
    locked = await throttle.record_failure(
        session, throttle.MFA_USER_IP, _subject(user, ip), now=now
    )
    locked |= await throttle.record_failure(session, throttle.MFA_USER, str(user.id), now=now)
    await _audit(session, AuditAction.MFA_FAILED, user, ip=ip, details={"purpose": purpose})
    if locked:
        await _audit(session, AuditAction.LOCKOUT, user, ip=ip, details={"purpose": purpose})
    return MfaFailure(InvalidMfaCode(message))


def _matching_step(secret: str, code: str, now: float) -> int | None:
    """The newest step within the drift window whose code is `code`."""
    totp = pyotp.TOTP(secret)
    current = int(now // totp.interval)
    for step in range(current + DRIFT_STEPS, current - DRIFT_STEPS - 1, -1):
        if hmac.compare_digest(totp.generate_otp(step), code):
            return step
    return None


async def _accept_totp(
    session: AsyncSession, settings: Settings, row: UserMfa, code: str
) -> Literal["ok", "wrong", "replayed"]:
    step = _matching_step(unseal(_signing_key(settings), row.secret_sealed), code, time.time())
    if step is None:
        return "wrong"
    # One statement: two requests racing with the same code cannot both pass.
    accepted = await session.scalar(
        update(UserMfa)
        .where(
            UserMfa.user_id == row.user_id,
            or_(UserMfa.last_step.is_(None), UserMfa.last_step < step),
        )
        .values(last_step=step)
        .returning(UserMfa.user_id)
        .execution_options(synchronize_session=False)
    )
    if accepted is None:
        return "replayed"
    row.last_step = step
    return "ok"


async def _spend_recovery_code(
    session: AsyncSession, settings: Settings, user: User, code: str
) -> bool:
    spent = await session.scalar(
        update(MfaRecoveryCode)
        .where(
            MfaRecoveryCode.user_id == user.id,
            MfaRecoveryCode.code_hash == recovery_code_hash(_signing_key(settings), code),
            MfaRecoveryCode.used_at.is_(None),
        )
        .values(used_at=utcnow())
        .returning(MfaRecoveryCode.id)
    )
    return spent is not None


def _looks_like_totp(code: str) -> bool:
    return len(code) == 6 and code.isdigit()


async def check_code(
    session: AsyncSession,
    settings: Settings,
    user: User,
    code: str,
    *,
    ip: str | None,
    purpose: str,
    allow_recovery: bool = True,
) -> CodeAccepted | MfaFailure:
    """A TOTP code (or a recovery code) of the user's enabled MFA; throttled and audited."""
    try:
        await _check_throttle(session, user, ip)
    except KuraError as exc:
        return MfaFailure(exc)
    row = await enrolment(session, user.id)
    if row is None or row.enabled_at is None:
        return MfaFailure(MfaNotEnabled("Two-step verification is not on for this account."))
    code = code.strip().replace(" ", "")
    if _looks_like_totp(code):
        outcome = await _accept_totp(session, settings, row, code)
        if outcome == "replayed":
            return await _failed(
                session,
                user,
                ip=ip,
                purpose=purpose,
                message="This code has already been used. Wait for the next one.",
            )
        if outcome == "ok":
            await throttle.clear(session, throttle.MFA_USER_IP, _subject(user, ip))
            return CodeAccepted("totp")
    elif allow_recovery and await _spend_recovery_code(session, settings, user, code):
        await throttle.clear(session, throttle.MFA_USER_IP, _subject(user, ip))
        left = await remaining_recovery_codes(session, user.id)
        await _audit(
            session, AuditAction.MFA_RECOVERY_CODE_USED, user, ip=ip, details={"left": left}
        )
        return CodeAccepted("recovery")
    return await _failed(session, user, ip=ip, purpose=purpose, message="The code is incorrect.")


async def remaining_recovery_codes(session: AsyncSession, user_id: uuid.UUID) -> int:
    rows = await session.scalars(
        select(MfaRecoveryCode.id).where(
            MfaRecoveryCode.user_id == user_id, MfaRecoveryCode.used_at.is_(None)
        )
    )
    return len(rows.all())


async def confirm_setup(
    session: AsyncSession, settings: Settings, auth: Authenticated, code: str, *, ip: str | None
) -> list[str] | MfaFailure:
    """Turn MFA on with a first code; the session counts as verified. Returns the recovery
    codes in clear, the only time they exist outside the user's hands."""
    user = auth.user
    try:
        await _check_throttle(session, user, ip)
    except KuraError as exc:
        return MfaFailure(exc)
    row = await enrolment(session, user.id)
    if row is None:
        return MfaFailure(MfaNotEnabled("Start with POST /api/v1/auth/mfa/setup."))
    if row.enabled_at is not None:
        return MfaFailure(Conflict("Two-step verification is already on."))
    code = code.strip().replace(" ", "")
    if not _looks_like_totp(code) or await _accept_totp(session, settings, row, code) != "ok":
        return await _failed(
            session, user, ip=ip, purpose="confirm", message="The code is incorrect."
        )
    await throttle.clear(session, throttle.MFA_USER_IP, _subject(user, ip))
    row.enabled_at = utcnow()
    codes = await _replace_recovery_codes(session, settings, user)
    await mark_verified(session, auth.session_id)
    await _audit(session, AuditAction.MFA_ENABLED, user, ip=ip)
    return codes


async def _replace_recovery_codes(
    session: AsyncSession, settings: Settings, user: User
) -> list[str]:
    await session.execute(delete(MfaRecoveryCode).where(MfaRecoveryCode.user_id == user.id))
    codes = [new_recovery_code() for _ in range(RECOVERY_CODES)]
    key = _signing_key(settings)
    session.add_all(
        MfaRecoveryCode(user_id=user.id, code_hash=recovery_code_hash(key, c)) for c in codes
    )
    await session.flush()
    return codes


async def mark_verified(session: AsyncSession, session_id: uuid.UUID) -> None:
    """This session just passed a code (operators and step-up read the time)."""
    await session.execute(
        update(AuthSession).where(AuthSession.id == session_id).values(mfa_verified_at=utcnow())
    )


async def disable(
    session: AsyncSession, settings: Settings, auth: Authenticated, code: str, *, ip: str | None
) -> MfaFailure | None:
    """Turn MFA off (the caller rechecked the password); no session counts as verified after."""
    checked = await check_code(session, settings, auth.user, code, ip=ip, purpose="disable")
    if isinstance(checked, MfaFailure):
        return checked
    user_id = auth.user.id
    await session.execute(delete(MfaRecoveryCode).where(MfaRecoveryCode.user_id == user_id))
    await session.execute(delete(UserMfa).where(UserMfa.user_id == user_id))
    await session.execute(
        update(AuthSession).where(AuthSession.user_id == user_id).values(mfa_verified_at=None)
    )
    await _audit(session, AuditAction.MFA_DISABLED, auth.user, ip=ip)
    return None


async def audit_verified(
    session: AsyncSession, user: User, *, ip: str | None, kind: str, step_up: bool
) -> None:
    await _audit(
        session, AuditAction.MFA_VERIFIED, user, ip=ip, details={"method": kind, "step_up": step_up}
    )


async def reset_for(session: AsyncSession, user: User) -> bool:
    """Turn MFA off for someone locked out (lost device and codes), from the command line:
    whoever runs it already holds the database. Every session of theirs ends; audited."""
    had = await session.get(UserMfa, user.id) is not None
    await session.execute(delete(MfaRecoveryCode).where(MfaRecoveryCode.user_id == user.id))
    await session.execute(delete(UserMfa).where(UserMfa.user_id == user.id))
    await revoke_all_sessions(session, user)
    await _audit(session, AuditAction.MFA_DISABLED, user, ip=None, details={"by": "kura mfa-reset"})
    return had
