"""Following the links the product emails, as a user would: from the outbox (.eml files)."""

from __future__ import annotations

import email
import email.policy
import re
import time
import uuid
from pathlib import Path

import httpx
from sqlalchemy import text

from kura.auth.password_links import deliver_password_link
from kura.config import Settings
from kura.db.engine import Database


def newest_mail_to(outbox: Path, address: str) -> email.message.Message | None:
    for path in sorted(outbox.glob("*.eml"), key=lambda p: p.stat().st_mtime_ns, reverse=True):
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        if message["To"] == address:
            return message
    return None


def link_token(message: email.message.Message, page: str) -> str:
    body = message.get_payload(decode=True)
    assert isinstance(body, bytes)
    match = re.search(rf"/{page}\?token=([\w.-]+)", body.decode())
    assert match, body
    return match.group(1)


async def send_queued_links(database: Database, settings: Settings) -> None:
    """Run the queued link emails' job bodies (no worker in these tests): into the outbox."""
    async with database.sessionmaker() as session:
        rows = await session.execute(
            text(
                "SELECT args->>'token_id' FROM procrastinate_jobs "
                "WHERE task_name = 'auth:send_password_link' AND status = 'todo'"
            )
        )
        token_ids = [row[0] for row in rows]
    for token_id in token_ids:
        await deliver_password_link(database, settings, uuid.UUID(token_id))


async def confirm_email(
    client: httpx.AsyncClient, database: Database, settings: Settings, address: str
) -> None:
    """Send the queued link emails, then follow the verification link."""
    await send_queued_links(database, settings)
    message = newest_mail_to(settings.kura_data_dir / "outbox" / "email", address)
    assert message is not None, f"no mail to {address}"
    confirmed = await client.post(
        "/api/v1/auth/verify-email", json={"token": link_token(message, "verify-email")}
    )
    assert confirmed.status_code == 200, confirmed.text


def confirm_email_live(base: str, data_dir: Path, address: str, *, within: float = 30) -> None:
    """Against `kura serve` (its worker sends the mail): wait for it, follow the link."""
    deadline = time.monotonic() + within
    while (message := newest_mail_to(data_dir / "outbox" / "email", address)) is None:
        assert time.monotonic() < deadline, f"no verification mail to {address}"
        time.sleep(0.2)
    confirmed = httpx.post(
        f"{base}/api/v1/auth/verify-email",
        json={"token": link_token(message, "verify-email")},
        timeout=30,
    )
    assert confirmed.status_code == 200, confirmed.text
