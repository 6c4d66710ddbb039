"""Payment and billing bodies."""

from __future__ import annotations

import uuid
from typing import Literal

from pydantic import BaseModel

from kura.inputs import Input


class PaymentIntentRequest(Input):
    booking_id: uuid.UUID


class PaymentIntentCreated(BaseModel):
    client_secret: str
    payment_intent_id: str
    amount: int
    currency: str


class BillingStatus(BaseModel):
    tier: str
    subscription_status: str | None
    stripe_mode: Literal["live", "test", "not configured"]
    has_connected_account: bool


class CheckoutRequest(Input):
    target_tier: str


class RedirectUrl(BaseModel):
    url: str
