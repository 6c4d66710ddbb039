"""Stripe Connect: the practice's own connected account, where patients' payments go.

The owner starts onboarding (an Express account, created once per practice with an
idempotency key) and finishes it on Stripe's hosted pages; `account.updated` events keep what
Stripe says about the account (charges, payouts) — live payments need charges enabled.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from kura.audit.service import AuditAction, record
from kura.auth.sessions import Authenticated
from kura.config import Settings
from kura.errors import ServiceUnavailable
from kura.orgs.models import Organization
from kura.payments.service import stripe_failure
from kura.payments.stripe_client import stripe_client


async def onboarding_link(
    session: AsyncSession, settings: Settings, auth: Authenticated, *, ip: str | None
) -> tuple[str, int]:
    """(URL of Stripe's onboarding pages, its expiry as a Unix time); creates the account
    the first time. Audited."""
    import stripe

    organization = await session.get_one(
        Organization, auth.user.organization_id, with_for_update=True
    )
    client = stripe_client(settings)
    try:
        if organization.stripe_account_id is None:
            account = await client.v1.accounts.create_async(
                {
                    "type": "express",
                    "email": auth.user.email,
                    "capabilities": {
                        "card_payments": {"requested": True},
                        "transfers": {"requested": True},
                    },
                    "metadata": {"organization_id": str(organization.id)},
                },
                {"idempotency_key": f"connect-account-{organization.id}"},
            )
            organization.stripe_account_id = account.id
            await session.flush()
        back = f"{settings.frontend_url}/settings/billing"
        link = await client.v1.account_links.create_async(
            {
                "account": organization.stripe_account_id,
                "refresh_url": f"{back}?connect=refresh",
                "return_url": f"{back}?connect=done",
                "type": "account_onboarding",
            }
        )
    except stripe.InvalidRequestError as exc:
        if "signed up for Connect" in str(exc.user_message or ""):
            raise ServiceUnavailable(
                "Payments to practices are not set up on this platform yet (Stripe Connect is "
                "not enabled on its Stripe account): the platform operator must enable it."
            ) from None
        raise stripe_failure(exc) from None
    except stripe.StripeError as exc:
        raise stripe_failure(exc) from None
    await record(
        session,
        AuditAction.PAYOUT_ACCOUNT_ONBOARDING,
        organization_id=organization.id,
        actor_id=auth.user.id,
        target_type="organization",
        target_id=organization.id,
        ip=ip,
    )
    return str(link.url), int(link.expires_at)


async def account_updated(session: AsyncSession, event: dict[str, Any]) -> str:
    """Keep the connected account's state; older events than the one applied are ignored."""
    from sqlalchemy import select

    from kura.payments.events import event_time

    account = event["data"]["object"]
    organization = await session.scalar(
        select(Organization)
        .where(Organization.stripe_account_id == str(account["id"]))
        .with_for_update()
    )
    if organization is None:
        return "ignored: not a practice's account"
    moment: datetime = event_time(event)
    if organization.stripe_account_synced_at and moment < organization.stripe_account_synced_at:
        return "ignored: older than the state we hold"
    organization.stripe_charges_enabled = bool(account["charges_enabled"])
    organization.stripe_payouts_enabled = bool(account["payouts_enabled"])
    organization.stripe_details_submitted = bool(account.get("details_submitted", False))
    organization.stripe_account_synced_at = moment
    await session.flush()
    return f"account: charges {'on' if organization.stripe_charges_enabled else 'off'}"
