"""Access tokens (JWT, HS256 pinned) and password-link tokens (HMAC, only a hash stored)."""

from __future__ import annotations

import hashlib
import hmac
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import jwt

ALGORITHM = "HS256"
ISSUER = "kura"
AUDIENCE = "kura-api"


@dataclass(frozen=True)
class AccessClaims:
    user_id: uuid.UUID
    session_id: uuid.UUID
    session_version: int
    issued_at: datetime


class InvalidToken(Exception):
    """The token is malformed, tampered with, expired or not ours."""


def issue_access_token(
    *,
    key: str,
    user_id: uuid.UUID,
    session_id: uuid.UUID,
    session_version: int,
    now: datetime,
    lifetime: timedelta,
) -> str:
    payload = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": str(user_id),
        "sid": str(session_id),
        "sv": session_version,
        # Microseconds kept: a token from the same second as an epoch bump must still lose.
        "iat": now.timestamp(),
        "exp": now + lifetime,
    }
    return jwt.encode(payload, key, algorithm=ALGORITHM)


def decode_access_token(token: str, *, key: str) -> AccessClaims:
    try:
        payload = jwt.decode(
            token,
            key,
            algorithms=[ALGORITHM],
            audience=AUDIENCE,
            issuer=ISSUER,
            options={"require": ["exp", "iat", "sub", "iss", "aud", "sid", "sv"]},
        )
        return AccessClaims(
            user_id=uuid.UUID(payload["sub"]),
            session_id=uuid.UUID(payload["sid"]),
            session_version=int(payload["sv"]),
            issued_at=datetime.fromtimestamp(float(payload["iat"]), tz=UTC),
        )
    except (jwt.PyJWTError, ValueError, TypeError, KeyError):
        raise InvalidToken from None


def password_link_token(*, key: str, token_id: uuid.UUID) -> str:
    """The secret in a reset/invite link, derivable only with the signing key."""
    mac = hmac.new(key.encode(), f"password-link:{token_id}".encode(), hashlib.sha256)
    return f"{token_id}.{mac.hexdigest()}"


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def parse_password_link_token(token: str) -> uuid.UUID:
    try:
        token_id, _ = token.split(".", 1)
        return uuid.UUID(token_id)
    except ValueError:
        raise InvalidToken from None
