"""Google sign-in: verify an ID token with google-auth against GOOGLE_CLIENT_ID."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from kura.config import Settings
from kura.errors import NotAuthenticated, ServiceUnavailable

GOOGLE_ISSUERS = frozenset({"accounts.google.com", "https://accounts.google.com"})


@dataclass(frozen=True)
class GoogleIdentity:
    sub: str
    email: str
    name: str


def _verify(token: str, *, audience: str, certs_url: str) -> Any:
    from google.auth.transport import requests as google_requests
    from google.oauth2 import id_token

    return id_token.verify_token(
        token, google_requests.Request(), audience=audience, certs_url=certs_url
    )


async def verify_google_id_token(settings: Settings, token: str) -> GoogleIdentity:
    if not settings.google_client_id:
        raise ServiceUnavailable("Google sign-in is not configured on this server.")
    from google.auth import exceptions as google_errors

    try:
        claims = await asyncio.to_thread(
            _verify, token, audience=settings.google_client_id, certs_url=settings.google_certs_url
        )
    except google_errors.TransportError:
        raise ServiceUnavailable("Google could not be reached. Try again shortly.") from None
    except (ValueError, google_errors.GoogleAuthError):
        raise NotAuthenticated("The Google sign-in token is not valid.") from None
    if claims.get("iss") not in GOOGLE_ISSUERS:
        raise NotAuthenticated("The Google sign-in token is not valid.")
    if claims.get("email_verified") is not True or not claims.get("email") or not claims.get("sub"):
        raise NotAuthenticated("Google has not verified this email address.")
    email = str(claims["email"])
    return GoogleIdentity(
        sub=str(claims["sub"]), email=email, name=str(claims.get("name") or email.split("@")[0])
    )
