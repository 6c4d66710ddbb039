"""The sign-in flows: register, verify the email, login, logout, Google, password change and
reset. Password hashing runs in a bounded thread pool (kura.auth.passwords), off the loop."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from kura.audit.service import AuditAction, record
from kura.auth import mfa, throttle
from kura.auth.google import GoogleIdentity
from kura.auth.models import TokenPurpose
from kura.auth.password_links import (
    SETS_PASSWORD,
    consume_password_link,
    create_password_link,
    expire_password_links,
)
from kura.auth.passwords import (
    burn_verification_time,
    check_password_policy,
    hash_password,
    verify_password,
)
from kura.auth.sessions import (
    Authenticated,
    IssuedSession,
    open_session,
    revoke_all_sessions,
    revoke_session,
    utcnow,
)
from kura.auth.tasks import send_password_link
from kura.config import Settings
from kura.errors import BadRequest, Forbidden, KuraError
from kura.jobs.defer import defer_in_transaction
from kura.orgs.closure import ensure_account_deletion_keeps_records
from kura.orgs.models import Organization
from kura.users import service as users
from kura.users.models import Role, User


class InvalidCredentials(KuraError):
    status_code = 401
    code = "invalid_credentials"


class EmailNotVerified(KuraError):
    status_code = 403
    code = "email_not_verified"


@dataclass(frozen=True)
class SignedIn:
    user: User
    organization: Organization
    session: IssuedSession


async def _audit_user(
    session: AsyncSession,
    action: AuditAction,
    user: User,
    *,
    ip: str | None,
    actor_id: uuid.UUID | None = None,
) -> None:
    await record(
        session,
        action,
        organization_id=user.organization_id,
        actor_id=actor_id,
        target_type="user",
        target_id=user.id,
        ip=ip,
    )


async def _sign_in(
    session: AsyncSession,
    settings: Settings,
    user: User,
    *,
    ip: str | None,
    ask_for_code: bool = True,
    mfa_verified_at: datetime | None = None,
) -> SignedIn:
    """A session; a *pending* one (code still owed, 5 minutes) when the user has MFA on."""
    pending = ask_for_code and await mfa.is_enabled(session, user.id)
    user.last_login_at = utcnow()
    issued = await open_session(
        session, settings, user, ip=ip, mfa_pending=pending, mfa_verified_at=mfa_verified_at
    )
    organization = await session.get_one(Organization, user.organization_id)
    await record(
        session,
        AuditAction.LOGIN,
        organization_id=user.organization_id,
        actor_id=user.id,
        target_type="user",
        target_id=user.id,
        ip=ip,
        details={"mfa": "pending"} if pending else None,
    )
    return SignedIn(user, organization, issued)


async def register(
    session: AsyncSession,
    settings: Settings,
    *,
    email: str,
    password: str,
    full_name: str,
    org_name: str,
    ip: str | None,
) -> SignedIn:
    if ip:
        # Committed before the outcome is known: a refused email (409) costs an attempt too,
        # or registering would probe which addresses have accounts without limit.
        await throttle.spend(session, throttle.REGISTER_IP, ip, now=utcnow())
        await session.commit()
    check_password_policy(password, email=email)
    user, organization = await users.create_organization_with_owner(
        session,
        org_name=org_name,
        email=email,
        full_name=full_name,
        password_hash=await hash_password(password),
    )
    await send_password_link_for(session, settings, user, TokenPurpose.VERIFY)
    await record(
        session,
        AuditAction.REGISTER,
        organization_id=organization.id,
        actor_id=user.id,
        target_type="organization",
        target_id=organization.id,
        ip=ip,
    )
    return await _sign_in(session, settings, user, ip=ip)


@dataclass(frozen=True)
class LoginFailure:
    """A refused login is an outcome to commit (counters, audit), not a rollback."""

    error: KuraError


async def login(
    session: AsyncSession, settings: Settings, *, email: str, password: str, ip: str | None
) -> SignedIn | LoginFailure:
    now = utcnow()
    try:
        if ip:
            await throttle.check(session, throttle.LOGIN_IP, ip, now=now)
        await throttle.check(
            session, throttle.ACCOUNT, throttle.account_subject(email, ip), now=now
        )
        await throttle.check(session, throttle.ACCOUNT_ANY_IP, email, now=now)
    except KuraError as exc:
        return LoginFailure(exc)
    user = await users.get_by_email(session, email)
    if user is None:
        await burn_verification_time(password)
        matches, upgraded = False, None
    else:
        matches, upgraded = await verify_password(password, user.password_hash)
    if not matches or user is None or not user.is_active:
        return await _failed_login(session, user, email=email, ip=ip)
    if upgraded is not None:
        user.password_hash = upgraded
    await throttle.clear(session, throttle.ACCOUNT, throttle.account_subject(email, ip))
    return await _sign_in(session, settings, user, ip=ip)


async def _failed_login(
    session: AsyncSession, user: User | None, *, email: str, ip: str | None
) -> LoginFailure:
    now = utcnow()
    if ip:
        await throttle.record_failure(session, throttle.LOGIN_IP, ip, now=now)
    subject = throttle.account_subject(email, ip)
    locked = await throttle.record_failure(session, throttle.ACCOUNT, subject, now=now)
    locked |= await throttle.record_failure(session, throttle.ACCOUNT_ANY_IP, email, now=now)
    org_id = user.organization_id if user else None
    user_id = user.id if user else None
    await record(
        session,
        AuditAction.LOGIN_FAILED,
        organization_id=org_id,
        actor_id=None,
        target_type="user" if user else None,
        target_id=user_id,
        ip=ip,
    )
    if locked and user is not None:
        await _audit_user(session, AuditAction.LOCKOUT, user, ip=ip)
    return LoginFailure(InvalidCredentials("Email or password is incorrect."))


async def login_with_google(
    session: AsyncSession, settings: Settings, identity: GoogleIdentity, *, ip: str | None
) -> SignedIn:
    user = await session.scalar(select(User).where(User.google_sub == identity.sub))
    if user is None:
        user = await users.get_by_email(session, identity.email)
        if user is not None:
            if user.google_sub is not None:  # the email now belongs to another Google account
                raise Forbidden("This email is linked to a different Google account.")
            if user.email_verified_at is None:
                await _take_over_unverified(session, user, ip=ip)
            user.google_sub = identity.sub  # Google verified the email: link the accounts
        else:
            user, organization = await users.create_organization_with_owner(
                session,
                org_name=identity.name,
                email=identity.email,
                full_name=identity.name,
                password_hash=None,
                google_sub=identity.sub,
            )
            await record(
                session,
                AuditAction.REGISTER,
                organization_id=organization.id,
                actor_id=user.id,
                target_type="organization",
                target_id=organization.id,
                ip=ip,
                details={"method": "google"},
            )
    if not user.is_active:
        raise Forbidden("This account has been deactivated.")
    return await _sign_in(session, settings, user, ip=ip)


async def _take_over_unverified(session: AsyncSession, user: User, *, ip: str | None) -> None:
    """Whoever registered this address never proved it; Google just did for the signer-in.
    The registrant loses every session and the password they chose (pre-account takeover)."""
    user.password_hash = None
    user.email_verified_at = utcnow()
    await revoke_all_sessions(session, user)
    await expire_password_links(session, user, frozenset(TokenPurpose))
    await _audit_user(session, AuditAction.ACCOUNT_CLAIMED, user, ip=ip)


async def verify_email(session: AsyncSession, *, token: str, ip: str | None) -> User:
    """Follow a verification link: the address is proved."""
    user = await consume_password_link(session, token, purposes=frozenset({TokenPurpose.VERIFY}))
    await _audit_user(session, AuditAction.EMAIL_VERIFIED, user, ip=ip, actor_id=user.id)
    return user


async def resend_verification(
    session: AsyncSession, settings: Settings, auth: Authenticated
) -> bool:
    """A new verification link for the signed-in user; False when already verified."""
    if auth.user.email_verified_at is not None:
        return False
    await throttle.spend(session, throttle.VERIFY_RESEND, str(auth.user.id), now=utcnow())
    await send_password_link_for(session, settings, auth.user, TokenPurpose.VERIFY)
    return True


def require_verified_email(user: User) -> None:
    """Clinical data and the platform's email on someone's behalf need a proved address."""
    if user.email_verified_at is None:
        raise EmailNotVerified(
            "Confirm your email first: follow the link we sent you "
            "(POST /api/v1/auth/verify-email/resend sends a new one)."
        )


@dataclass(frozen=True)
class ReauthFailure:
    """A wrong password from a signed-in user: counted and audited (committed), then refused."""

    error: KuraError


async def turn_off_mfa(
    session: AsyncSession,
    settings: Settings,
    auth: Authenticated,
    *,
    password: str | None,
    code: str,
    ip: str | None,
) -> KuraError | None:
    """Two-step verification off: the password (when the account has one), then a current
    code. A refusal is returned, not raised: its counters and audit row must be committed."""
    if auth.user.password_hash is not None:  # Google-only accounts have no password to ask
        if password is None:
            raise BadRequest("Your password is required to turn two-step verification off.")
        reauth = await recheck_password(session, auth, password, ip=ip)
        if reauth is not None:
            return reauth.error
    failure = await mfa.disable(session, settings, auth, code, ip=ip)
    return failure.error if failure is not None else None


async def recheck_password(
    session: AsyncSession, auth: Authenticated, password: str, *, ip: str | None
) -> ReauthFailure | None:
    now = utcnow()
    subject = str(auth.user.id)
    try:
        await throttle.check(session, throttle.REAUTH, subject, now=now)
    except KuraError as exc:
        return ReauthFailure(exc)
    matches, _ = await verify_password(password, auth.user.password_hash)
    if matches:
        await throttle.clear(session, throttle.REAUTH, subject)
        return None
    locked = await throttle.record_failure(session, throttle.REAUTH, subject, now=now)
    await _audit_user(session, AuditAction.REAUTH_FAILED, auth.user, ip=ip, actor_id=auth.user.id)
    if locked:
        await _audit_user(session, AuditAction.LOCKOUT, auth.user, ip=ip)
    return ReauthFailure(BadRequest("The password is incorrect."))


async def logout(session: AsyncSession, auth: Authenticated, *, ip: str | None) -> None:
    await revoke_session(session, auth.session_id)
    await record(
        session,
        AuditAction.LOGOUT,
        organization_id=auth.user.organization_id,
        actor_id=auth.user.id,
        ip=ip,
    )


async def change_password(
    session: AsyncSession,
    settings: Settings,
    auth: Authenticated,
    *,
    current_password: str,
    new_password: str,
    ip: str | None,
) -> SignedIn | ReauthFailure:
    """Every session and unused reset link of the user ends; the caller gets a fresh session."""
    failure = await recheck_password(session, auth, current_password, ip=ip)
    if failure is not None:
        return failure
    check_password_policy(new_password, email=auth.user.email)
    auth.user.password_hash = await hash_password(new_password)
    await revoke_all_sessions(session, auth.user)
    await expire_password_links(session, auth.user)
    await _audit_user(
        session, AuditAction.PASSWORD_CHANGED, auth.user, ip=ip, actor_id=auth.user.id
    )
    # The caller's session was past any code: the renewed one keeps its verification time.
    return await _sign_in(
        session,
        settings,
        auth.user,
        ip=ip,
        ask_for_code=False,
        mfa_verified_at=auth.mfa_verified_at,
    )


async def request_password_reset(
    session: AsyncSession, settings: Settings, *, email: str, ip: str | None
) -> None:
    """Same outcome whether or not the email exists; the email goes out from a job."""
    now = utcnow()
    if ip:
        await throttle.check(session, throttle.FORGOT_IP, ip, now=now)
        await throttle.record_failure(session, throttle.FORGOT_IP, ip, now=now)
    user = await users.get_by_email(session, email)
    if user is None or not user.is_active:
        return
    await send_password_link_for(session, settings, user, TokenPurpose.RESET)
    await _audit_user(session, AuditAction.PASSWORD_RESET_REQUESTED, user, ip=ip)


async def send_password_link_for(
    session: AsyncSession,
    settings: Settings,
    user: User,
    purpose: TokenPurpose,
    *,
    created_by: User | None = None,
) -> None:
    link = await create_password_link(session, settings, user, purpose, created_by=created_by)
    await defer_in_transaction(session, send_password_link, token_id=str(link.id))


async def reset_password(
    session: AsyncSession, *, token: str, new_password: str, ip: str | None
) -> None:
    user = await consume_password_link(session, token, purposes=SETS_PASSWORD)
    check_password_policy(new_password, email=user.email)
    user.password_hash = await hash_password(new_password)
    await revoke_all_sessions(session, user)
    await expire_password_links(session, user)
    await throttle.clear(session, throttle.ACCOUNT_ANY_IP, user.email)
    await throttle.clear(session, throttle.ACCOUNT, throttle.account_subject(user.email, ip))
    await _audit_user(session, AuditAction.PASSWORD_RESET, user, ip=ip, actor_id=user.id)


async def delete_account(
    session: AsyncSession, auth: Authenticated, *, password: str, ip: str | None
) -> ReauthFailure | None:
    """Remove the user; their practice too when nobody else belongs to it and it holds no
    patient records (those leave only by closing the practice). The audit trail keeps the
    event. Superusers are removed by another superuser only."""
    failure = await recheck_password(session, auth, password, ip=ip)
    if failure is not None:
        return failure
    if auth.user.is_superuser:
        raise Forbidden("A platform operator's account cannot delete itself.")
    others = await session.scalar(
        select(func.count())
        .select_from(User)
        .where(User.organization_id == auth.user.organization_id, User.id != auth.user.id)
    )
    if others and auth.user.role == Role.OWNER:
        await users.ensure_an_owner_remains(session, auth.user)
    if not others:
        await ensure_account_deletion_keeps_records(session, auth.user.organization_id)
    await _audit_user(session, AuditAction.ACCOUNT_DELETED, auth.user, ip=ip, actor_id=auth.user.id)
    await session.delete(auth.user)
    if not others:
        await session.delete(await session.get_one(Organization, auth.user.organization_id))
    await session.flush()
    return None
