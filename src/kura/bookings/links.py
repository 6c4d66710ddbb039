"""Manage links: an unguessable token per booking, derived with the signing key, only its
SHA-256 stored (a database copy alone opens no booking; the email job can rebuild the link)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import uuid

from kura.config import Settings

MANAGE_PATH = "/api/v1/public/booking/manage"


def manage_token(settings: Settings, booking_id: uuid.UUID) -> str:
    key = settings.signing_key.get_secret_value().encode()
    mac = hmac.new(key, f"booking-manage:{booking_id}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).rstrip(b"=").decode()


def manage_token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def public_base(settings: Settings) -> str:
    """Where patients reach the public booking paths: PUBLIC_BASE_URL (this server locally)."""
    return (settings.public_base_url or f"http://127.0.0.1:{settings.port}").rstrip("/")


MANAGE_PAGE = "/book/manage"


def manage_url(settings: Settings, booking_id: uuid.UUID) -> str:
    """The link a patient receives: the manage page (view, pay, cancel) under PUBLIC_BASE_URL;
    the same token works on the API's MANAGE_PATH."""
    return f"{public_base(settings)}{MANAGE_PAGE}/{manage_token(settings, booking_id)}"
