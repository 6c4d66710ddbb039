"""Email senders: Brevo's transactional API, or an outbox directory (the offline mode)."""

from __future__ import annotations

import base64
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage as MimeMessage
from email.utils import format_datetime, formataddr
from pathlib import Path
from typing import Protocol

import httpx

from kura.config import Settings, secret_value
from kura.logging import get_logger

log = get_logger(__name__)


@dataclass(frozen=True)
class Attachment:
    filename: str
    content_type: str  # "application/pdf", "text/calendar"
    data: bytes


@dataclass(frozen=True)
class Email:
    to: str
    subject: str
    text: str
    attachments: tuple[Attachment, ...] = ()


class EmailDeliveryError(Exception):
    """The provider refused or could not be reached; the job will retry."""


class EmailSender(Protocol):
    method: str

    async def send(self, email: Email) -> None: ...


class OutboxEmailSender:
    """Writes each message as an .eml file; nothing leaves the machine."""

    method = "outbox"

    def __init__(self, directory: Path, *, sender: str) -> None:
        self.directory = directory
        self.sender = sender

    async def send(self, email: Email) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        message = MimeMessage()
        message["From"] = self.sender
        message["To"] = email.to
        message["Subject"] = email.subject
        message["Date"] = format_datetime(datetime.now(UTC))
        message.set_content(email.text)
        for attachment in email.attachments:
            maintype, subtype = attachment.content_type.split("/", 1)
            message.add_attachment(
                attachment.data, maintype=maintype, subtype=subtype, filename=attachment.filename
            )
        name = f"{datetime.now(UTC):%Y%m%dT%H%M%S%f}-{uuid.uuid4().hex[:8]}.eml"
        path = self.directory / name
        path.write_bytes(bytes(message))
        path.chmod(0o600)
        log.info("email.outboxed", to_domain=_domain(email.to), subject=email.subject, file=name)


class BrevoEmailSender:
    """Brevo (Sendinblue) transactional email over its HTTP API."""

    method = "brevo"

    def __init__(self, *, api_key: str, base_url: str, sender_email: str, sender_name: str) -> None:
        self._api_key = api_key
        self._url = f"{base_url.rstrip('/')}/smtp/email"
        self._sender = {"email": sender_email, "name": sender_name}

    async def send(self, email: Email) -> None:
        payload: dict[str, object] = {
            "sender": self._sender,
            "to": [{"email": email.to}],
            "subject": email.subject,
            "textContent": email.text,
        }
        if email.attachments:
            # Brevo takes attachments inline as base64 with their file name.
            payload["attachment"] = [
                {"name": a.filename, "content": base64.b64encode(a.data).decode()}
                for a in email.attachments
            ]
        try:
            async with httpx.AsyncClient(timeout=15) as client:
                response = await client.post(
                    self._url, json=payload, headers={"api-key": self._api_key}
                )
        except httpx.HTTPError as exc:
            raise EmailDeliveryError(f"Brevo unreachable: {type(exc).__name__}") from None
        if response.status_code >= 300:
            raise EmailDeliveryError(f"Brevo answered {response.status_code}")
        log.info("email.sent", to_domain=_domain(email.to), subject=email.subject, provider="brevo")


def email_sender(settings: Settings) -> EmailSender:
    api_key = secret_value(settings.brevo_api_key)
    if api_key is None:
        return OutboxEmailSender(
            settings.kura_data_dir / "outbox" / "email",
            sender=formataddr((settings.email_from_name, settings.email_from_address)),
        )
    return BrevoEmailSender(
        api_key=api_key,
        base_url=settings.brevo_api_url,
        sender_email=settings.email_from_address,
        sender_name=settings.email_from_name,
    )


def _domain(address: str) -> str:
    return address.rsplit("@", 1)[-1]
