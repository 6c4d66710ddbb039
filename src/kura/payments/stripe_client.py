"""The Stripe client for this process, and what the configured key says about the mode."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from kura.config import Settings, secret_value
from kura.errors import ServiceUnavailable
from kura.orgs.models import OrgTier

if TYPE_CHECKING:
    import stripe

Mode = Literal["live", "test", "not configured"]
# Platform fee on patient payments, by the practice's tier (as in the original system).
APPLICATION_FEE_RATE = {OrgTier.BUILDER: 0.05, OrgTier.PRO: 0.02, OrgTier.CENTER: 0.01}


def stripe_mode(settings: Settings) -> Mode:
    key = secret_value(settings.stripe_secret_key)
    if key is None:
        return "not configured"
    return "live" if key.startswith(("sk_live_", "rk_live_")) else "test"


def stripe_client(settings: Settings) -> stripe.StripeClient:
    import stripe  # the SDK (and requests) load only when a payment is made

    key = secret_value(settings.stripe_secret_key)
    if key is None:
        raise ServiceUnavailable(
            "Payments are not configured on this server (STRIPE_SECRET_KEY is not set)."
        )
    if settings.stripe_api_base:
        return stripe.StripeClient(
            key, max_network_retries=2, base_addresses={"api": settings.stripe_api_base}
        )
    return stripe.StripeClient(key, max_network_retries=2)


def application_fee(amount_cents: int, tier: OrgTier) -> int:
    return round(amount_cents * APPLICATION_FEE_RATE[tier])


def price_for_tier(settings: Settings, tier: OrgTier) -> str | None:
    return {
        OrgTier.PRO: settings.stripe_price_id_pro,
        OrgTier.CENTER: settings.stripe_price_id_center,
    }.get(tier)


def tier_for_price(settings: Settings, price_id: str | None) -> OrgTier | None:
    for tier in (OrgTier.PRO, OrgTier.CENTER):
        if price_id and price_id == price_for_tier(settings, tier):
            return tier
    return None
