"""Failure counters in PostgreSQL, so limits hold across every Cloud Run instance."""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import case, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from kura.auth.models import AuthThrottle
from kura.errors import KuraError


@dataclass(frozen=True)
class Limit:
    prefix: str
    max_failures: int
    window: timedelta
    lock_for: timedelta


# 5 wrong passwords for one email from one IP within 15 minutes lock that pair for 15 minutes
# (also for emails that have no account, so the lock reveals nothing). Keyed with the IP so a
# stranger cannot lock the owner (or an operator) out from elsewhere; 50 failures from any IPs
# lock the email everywhere. An IP gets 20 failures per 15 minutes.
ACCOUNT = Limit("login-email-ip", 5, timedelta(minutes=15), timedelta(minutes=15))
ACCOUNT_ANY_IP = Limit("login-email", 50, timedelta(minutes=15), timedelta(minutes=15))
LOGIN_IP = Limit("login-ip", 20, timedelta(minutes=15), timedelta(minutes=15))
# Every attempt counts for these (there is no "success" that resets them).
REGISTER_IP = Limit("register-ip", 10, timedelta(hours=1), timedelta(hours=1))
FORGOT_IP = Limit("forgot-ip", 10, timedelta(hours=1), timedelta(hours=1))
# A signed-in user re-typing their password (change it, delete the account): 5 wrong per user.
REAUTH = Limit("reauth-user", 5, timedelta(minutes=15), timedelta(minutes=15))
# Wrong two-step codes count like wrong passwords: 5 per user from one IP, 20 per user from any
# IP (six digits must not be guessable from many addresses), and the IP's login budget.
MFA_USER_IP = Limit("mfa-user-ip", 5, timedelta(minutes=15), timedelta(minutes=15))
MFA_USER = Limit("mfa-user", 20, timedelta(minutes=15), timedelta(minutes=15))
# Emails the platform sends on someone's behalf: invitations per practice and per IP, and
# verification links a user asks for again.
INVITE_ORG = Limit("invite-org", 20, timedelta(days=1), timedelta(days=1))
INVITE_IP = Limit("invite-ip", 30, timedelta(days=1), timedelta(days=1))
VERIFY_RESEND = Limit("verify-resend", 5, timedelta(hours=1), timedelta(hours=1))


class TooManyAttempts(KuraError):
    status_code = 429
    code = "too_many_attempts"


class AccountLocked(KuraError):
    status_code = 429
    code = "account_locked"


def throttle_key(limit: Limit, subject: str) -> str:
    # Hashed: the table holds no email addresses or IPs in clear.
    digest = hashlib.sha256(subject.strip().lower().encode()).hexdigest()[:40]
    return f"{limit.prefix}:{digest}"


async def seconds_locked(
    session: AsyncSession, limit: Limit, subject: str, *, now: datetime
) -> int:
    """Seconds until `subject` may try again (0 when not locked)."""
    locked_until = await session.scalar(
        select(AuthThrottle.locked_until).where(AuthThrottle.key == throttle_key(limit, subject))
    )
    if locked_until is None or locked_until <= now:
        return 0
    return max(1, math.ceil((locked_until - now).total_seconds()))


async def record_failure(
    session: AsyncSession, limit: Limit, subject: str, *, now: datetime
) -> bool:
    """Count one failure; True when this failure starts a lock."""
    key = throttle_key(limit, subject)
    window_open = AuthThrottle.window_started_at > now - limit.window
    statement = (
        insert(AuthThrottle)
        .values(key=key, failures=1, window_started_at=now)
        .on_conflict_do_update(
            index_elements=[AuthThrottle.key],
            set_={
                "failures": case((window_open, AuthThrottle.failures + 1), else_=1),
                "window_started_at": case((window_open, AuthThrottle.window_started_at), else_=now),
            },
        )
        .returning(AuthThrottle.failures, AuthThrottle.locked_until)
    )
    failures, locked_until = (await session.execute(statement)).one()
    if failures >= limit.max_failures and (locked_until is None or locked_until <= now):
        row = await session.get_one(AuthThrottle, key)
        row.locked_until = now + limit.lock_for
        row.failures = 0
        row.window_started_at = now
        await session.flush()
        return True
    return False


async def clear(session: AsyncSession, limit: Limit, subject: str) -> None:
    row = await session.get(AuthThrottle, throttle_key(limit, subject))
    if row is not None:
        await session.delete(row)
        await session.flush()


def account_subject(email: str, ip: str | None) -> str:
    return f"{email.strip().lower()}\n{ip or '-'}"


async def spend(session: AsyncSession, limit: Limit, subject: str, *, now: datetime) -> None:
    """For limits where every attempt counts: refuse while locked, else count this one."""
    await check(session, limit, subject, now=now)
    await record_failure(session, limit, subject, now=now)


async def check(session: AsyncSession, limit: Limit, subject: str, *, now: datetime) -> None:
    """Raise 429 with Retry-After while `subject` is locked."""
    wait = await seconds_locked(session, limit, subject, now=now)
    if wait:
        error = (
            AccountLocked
            if limit in (ACCOUNT, ACCOUNT_ANY_IP, REAUTH, MFA_USER_IP, MFA_USER)
            else TooManyAttempts
        )
        raise error(
            f"Too many attempts. Try again in {math.ceil(wait / 60)} minute(s).",
            headers={"Retry-After": str(wait)},
        )
