"""Who is calling: the vocabulary endpoints use (CurrentAuth, Owner, ClinicalStaff, SuperAdmin).

Three stages of a session: any valid token (`AnySession`: mfa/verify and logout only), past
the password-and-code sign-in (`FullSession`: the MFA endpoints and GET /auth/me), and allowed
by the practice's two-step policy (`CurrentAuth`: everything else)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Request, Response
from fastapi.security import APIKeyCookie, HTTPAuthorizationCredentials, HTTPBearer

from kura.auth.sessions import Authenticated, IssuedSession, authenticate, utcnow
from kura.auth.tokens import InvalidToken
from kura.db.session import DbSession
from kura.errors import Forbidden, NotAuthenticated
from kura.users.models import Role

COOKIE_NAME = "access_token"


def set_session_cookie(response: Response, issued: IssuedSession, *, secure: bool) -> None:
    """The httpOnly session cookie the API and the operator console share."""
    response.set_cookie(
        COOKIE_NAME,
        issued.access_token,
        max_age=int((issued.expires_at - utcnow()).total_seconds()),
        httponly=True,
        secure=secure,
        samesite="lax",
        path="/",
    )


def clear_session_cookie(response: Response) -> None:
    response.delete_cookie(COOKIE_NAME, path="/")


_cookie = APIKeyCookie(name=COOKIE_NAME, auto_error=False)
_bearer = HTTPBearer(auto_error=False)


class MfaRequired(Forbidden):
    code = "mfa_required"


async def _any_session(
    request: Request,
    session: DbSession,
    cookie: Annotated[str | None, Depends(_cookie)],
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Authenticated:
    token = bearer.credentials if bearer else cookie
    if not token:
        raise NotAuthenticated("Not signed in.", headers={"WWW-Authenticate": "Bearer"})
    try:
        auth = await authenticate(session, request.app.state.settings, token)
    except InvalidToken:
        raise NotAuthenticated(
            "Session is invalid or has ended. Sign in again.",
            headers={"WWW-Authenticate": "Bearer"},
        ) from None
    request.state.user_id = auth.user.id
    return auth


AnySession = Annotated[Authenticated, Depends(_any_session)]


async def _full_session(auth: AnySession) -> Authenticated:
    if auth.mfa_pending:
        raise MfaRequired(
            "Two-step verification pending: send the code from your authenticator app "
            "to POST /api/v1/auth/mfa/verify (or sign out)."
        )
    return auth


FullSession = Annotated[Authenticated, Depends(_full_session)]


async def _authenticated(auth: FullSession) -> Authenticated:
    if auth.organization.mfa_required and auth.mfa_verified_at is None:
        raise MfaRequired(
            "Your practice requires two-step verification: set it up "
            "(POST /api/v1/auth/mfa/setup, then /confirm) or verify a code "
            "(POST /api/v1/auth/mfa/verify)."
        )
    return auth


CurrentAuth = Annotated[Authenticated, Depends(_authenticated)]


def _require_roles(
    *roles: Role, message: str
) -> Callable[[Authenticated], Awaitable[Authenticated]]:
    async def dependency(auth: CurrentAuth) -> Authenticated:
        if auth.user.role not in roles:
            raise Forbidden(message)
        return auth

    return dependency


async def _superuser(auth: CurrentAuth) -> Authenticated:
    if not auth.user.is_superuser:
        raise Forbidden("Platform operator (superuser) access required.")
    if auth.mfa_verified_at is None:
        raise MfaRequired(
            "Two-step verification required for platform operators: set it up "
            "(POST /api/v1/auth/mfa/setup, then /confirm) or verify a code "
            "(POST /api/v1/auth/mfa/verify)."
        )
    return auth


Owner = Annotated[
    Authenticated,
    Depends(_require_roles(Role.OWNER, message="Only the practice owner can do this.")),
]
ClinicalStaff = Annotated[
    Authenticated,
    Depends(
        _require_roles(
            Role.OWNER, Role.THERAPIST, message="Clinical content is for owners and therapists."
        )
    ),
]
SuperAdmin = Annotated[Authenticated, Depends(_superuser)]
