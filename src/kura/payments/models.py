"""Every payment attempt and its result, and the inbox of Stripe events (one row per id)."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, func
from sqlalchemy.orm import Mapped, mapped_column

from kura.db.base import Base, Timestamps, UUIDPrimaryKey, str_enum, utcnow


class PaymentKind(StrEnum):
    BOOKING = "BOOKING"
    SUBSCRIPTION = "SUBSCRIPTION"


class PaymentStatus(StrEnum):
    PENDING = "PENDING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"


class Payment(UUIDPrimaryKey, Timestamps, Base):
    """The single source for income figures (succeeded rows only)."""

    __tablename__ = "payment"
    __table_args__ = (
        Index("ix_payment_org_succeeded", "organization_id", "succeeded_at"),
        CheckConstraint(
            "refunded_cents >= 0 AND refunded_cents <= amount_cents", name="refund_within_amount"
        ),
    )

    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organization.id", ondelete="CASCADE")
    )
    booking_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("booking.id", ondelete="SET NULL"), index=True
    )
    kind: Mapped[PaymentKind] = mapped_column(str_enum(PaymentKind, "payment_kind"))
    amount_cents: Mapped[int]
    application_fee_cents: Mapped[int] = mapped_column(default=0)
    currency: Mapped[str] = mapped_column(String(3))
    status: Mapped[PaymentStatus] = mapped_column(
        str_enum(PaymentStatus, "payment_status"), default=PaymentStatus.PENDING
    )
    stripe_payment_intent_id: Mapped[str | None] = mapped_column(String(255), unique=True)
    stripe_checkout_session_id: Mapped[str | None] = mapped_column(String(255), unique=True)
    stripe_subscription_id: Mapped[str | None] = mapped_column(String(255))
    livemode: Mapped[bool] = mapped_column(default=False)
    succeeded_at: Mapped[datetime | None]
    # Refunded so far (our refunds and Stripe's `charge.refunded`, which only ever raises it).
    refunded_cents: Mapped[int] = mapped_column(default=0, server_default="0")


class StripeEvent(Base):
    """The webhook inbox: a redelivered event id finds its row and changes nothing."""

    __tablename__ = "stripe_event"

    id: Mapped[str] = mapped_column(String(255), primary_key=True)
    type: Mapped[str] = mapped_column(String(100))
    livemode: Mapped[bool]
    created: Mapped[datetime]  # Stripe's own event time
    received_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())
    outcome: Mapped[str] = mapped_column(String(100))
