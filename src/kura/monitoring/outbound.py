"""Messages the platform starts (not answers in the webhook): stored first as an outbound
message_log row in the caller's transaction, then delivered by a job — nothing is sent for a
transaction that rolled back, and a failed send is retried by the job queue (6 attempts)."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kura.config import Settings
from kura.db.engine import Database
from kura.logging import get_logger
from kura.monitoring.models import Direction, MessageLog, Routing
from kura.notify.messaging import MessageDeliveryError, TextMessage, message_sender

log = get_logger(__name__)


async def queue_message(session: AsyncSession, *, reply_to: MessageLog, text: str) -> uuid.UUID:
    """Store a message to the sender of `reply_to` and queue its delivery."""
    from kura.monitoring.tasks import queue_outbound

    outbound = MessageLog(
        organization_id=reply_to.organization_id,
        patient_id=reply_to.patient_id,
        direction=Direction.OUTBOUND,
        routing=Routing.ROUTED,
        in_reply_to_id=reply_to.id,
        from_number=reply_to.to_number,
        to_number=reply_to.from_number,
        body=text,
        delivery_status="pending",
    )
    session.add(outbound)
    await session.flush()
    await queue_outbound(session, outbound.id)
    return outbound.id


async def deliver(database: Database, settings: Settings, message_id: uuid.UUID) -> str:
    """Job body: send once (a row already sent is skipped); errors make the job retry."""
    async with database.sessionmaker() as session, session.begin():
        message = await session.scalar(
            select(MessageLog).where(MessageLog.id == message_id).with_for_update()
        )
        if message is None or message.delivery_status != "pending" or not message.body:
            return "skipped"
        sender = message_sender(settings)
        try:
            sid = await sender.send(
                TextMessage(
                    to=message.to_number, body=message.body, from_number=message.from_number
                )
            )
        except MessageDeliveryError as exc:
            log.warning("whatsapp.send_failed", message_id=str(message.id), error=str(exc))
            raise
        message.delivery_status = "sent"
        message.provider_sid = sid
        log.info("whatsapp.sent", message_id=str(message.id), method=sender.method)
        return "sent"
