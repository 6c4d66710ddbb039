"""Outbound WhatsApp and SMS: Twilio's Messages API (its SDK), or an outbox directory (the
offline mode). WhatsApp: a reply that cannot travel in the webhook's answer (after a voice note
is transcribed); free-form text is allowed only within 24 hours of the person's last message,
and these always answer one the patient has just sent. SMS: escalated alerts to staff phones
(SMS has no such window)."""

from __future__ import annotations

import json
import uuid
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal, Protocol

from kura.config import Settings, secret_value
from kura.logging import get_logger

log = get_logger(__name__)


@dataclass(frozen=True)
class TextMessage:
    to: str  # E.164
    body: str
    from_number: str  # E.164: the number the patient wrote to, or the SMS sender
    channel: Literal["whatsapp", "sms"] = "whatsapp"
    # A WhatsApp template (Twilio Content SID, HX…) and its variables: the only kind of
    # message WhatsApp delivers outside the 24 hours after the person's last message.
    content_sid: str | None = None
    content_variables: dict[str, str] | None = None


class MessageDeliveryError(Exception):
    """The provider refused or could not be reached (its error code only; the job retries)."""


class MessageSender(Protocol):
    method: str

    async def send(self, message: TextMessage) -> str: ...


class OutboxMessageSender:
    """Writes each message as a JSON file (mode 0600); nothing leaves the machine."""

    method = "outbox"

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    async def send(self, message: TextMessage) -> str:
        self.directory.mkdir(parents=True, exist_ok=True)
        sid = f"OUTBOX{uuid.uuid4().hex}"
        path = self.directory / f"{datetime.now(UTC):%Y%m%dT%H%M%S%f}-{sid}.json"
        path.write_text(json.dumps({"sid": sid, **asdict(message)}))
        path.chmod(0o600)
        log.info("message.outboxed", channel=message.channel, file=path.name)  # no number/text
        return sid


class TwilioMessageSender:
    """Twilio Messages API through its SDK (async HTTP client)."""

    method = "twilio"

    def __init__(self, *, account_sid: str, auth_token: str, api_base: str | None) -> None:
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.api_base = api_base

    async def send(self, message: TextMessage) -> str:
        from twilio.base.exceptions import TwilioRestException
        from twilio.http.async_http_client import AsyncTwilioHttpClient
        from twilio.rest import Client

        http = AsyncTwilioHttpClient(timeout=15)
        client = Client(self.account_sid, self.auth_token, http_client=http)
        if self.api_base:
            client.api.base_url = self.api_base
        try:
            prefix = "whatsapp:" if message.channel == "whatsapp" else ""
            if message.content_sid:
                sent = await client.messages.create_async(
                    from_=f"{prefix}{message.from_number}",
                    to=f"{prefix}{message.to}",
                    content_sid=message.content_sid,
                    content_variables=json.dumps(message.content_variables or {}),
                )
            else:
                sent = await client.messages.create_async(
                    from_=f"{prefix}{message.from_number}",
                    to=f"{prefix}{message.to}",
                    body=message.body,
                )
        except TwilioRestException as exc:
            raise MessageDeliveryError(f"twilio {exc.status} code {exc.code}") from None
        except Exception as exc:  # transport errors: the job retries
            raise MessageDeliveryError(type(exc).__name__) from None
        finally:
            await http.close()
        return str(sent.sid)


def message_sender(settings: Settings) -> MessageSender:
    token = secret_value(settings.twilio_auth_token)
    if not settings.twilio_account_sid or token is None:
        return OutboxMessageSender(settings.kura_data_dir / "outbox" / "messages")
    return TwilioMessageSender(
        account_sid=settings.twilio_account_sid, auth_token=token, api_base=settings.twilio_api_base
    )
