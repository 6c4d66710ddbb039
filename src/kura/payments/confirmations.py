"""Booking confirmation emails after a payment, in each recipient's language."""

from __future__ import annotations

import uuid

from kura.bookings.emails import BookingEvent, send_booking_emails
from kura.config import Settings
from kura.db.engine import Database


async def send_confirmations(database: Database, settings: Settings, booking_id: uuid.UUID) -> int:
    """The patient and the therapist (or the owners); "paid" only when a payment succeeded."""
    return await send_booking_emails(database, settings, booking_id, BookingEvent.PAID)
