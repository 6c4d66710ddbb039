"""Payment and billing bodies."""

from __future__ import annotations

import uuid
from typing import Literal

from pydantic import BaseModel, Field

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
    charges_enabled: bool = Field(description="The connected account can take charges")
    payouts_enabled: bool = Field(description="Stripe pays the practice out")


class OnboardingLink(BaseModel):
    url: str = Field(description="Stripe's hosted onboarding pages (single use)")
    expires_at: int = Field(description="Unix time after which the link is refused")


class CheckoutRequest(Input):
    target_tier: str


class RedirectUrl(BaseModel):
    url: str


class RefundRequest(Input):
    amount_cents: int | None = Field(None, gt=0, description="Default: everything not yet refunded")
    reason: Literal["requested_by_customer", "duplicate", "fraudulent"] = "requested_by_customer"


class RefundResult(BaseModel):
    refunded_cents: int = Field(description="This refund")
    total_refunded_cents: int = Field(description="All refunds of the payment so far")
    amount_cents: int
    currency: str
