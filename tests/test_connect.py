"""Stripe Connect: the owner onboards the practice's account; `account.updated` says when it
can take charges; live payments go to it only then. The SDK talks to tests/stripe_support."""

from __future__ import annotations

import time

from httpx import AsyncClient
from sqlalchemy.ext.asyncio import AsyncSession

from kura.config import Settings
from kura.orgs.models import Organization
from kura.users.models import Role
from tests.factories import Member, enrol_mfa, make_staff
from tests.stripe_support import FakeStripe, deliver, paid_booking, stripe_event


def _account(account_id: str, *, charges: bool, payouts: bool) -> dict[str, object]:
    return {
        "id": account_id,
        "object": "account",
        "charges_enabled": charges,
        "payouts_enabled": payouts,
        "details_submitted": charges,
    }


async def test_the_owner_onboards_once_and_account_updates_enable_charges(
    pay: AsyncClient, owner: Member, session: AsyncSession, settings: Settings
) -> None:
    therapist = await make_staff(session, settings, owner.organization, Role.THERAPIST)
    assert (
        await pay.post("/api/v1/connect/onboarding", headers=therapist.headers)
    ).status_code == 403
    stale = await pay.post("/api/v1/connect/onboarding", headers=owner.headers)
    assert stale.status_code == 403 and stale.json()["error"] == "step_up_required"
    await enrol_mfa(session, settings, owner)  # payout changes need a fresh code
    first = await pay.post("/api/v1/connect/onboarding", headers=owner.headers)
    assert first.status_code == 200, first.text
    assert first.json()["url"].startswith("https://connect.stripe.test/setup/")
    created = [r for r in FakeStripe.requests if r["path"] == "/v1/accounts"]
    assert created[0]["params"]["type"] == "express"
    assert created[0]["params"]["metadata[organization_id]"] == str(owner.organization.id)
    assert created[0]["idempotency"] == f"connect-account-{owner.organization.id}"
    again = await pay.post("/api/v1/connect/onboarding", headers=owner.headers)
    assert again.status_code == 200  # a fresh link for the same account
    assert len([r for r in FakeStripe.requests if r["path"] == "/v1/accounts"]) == 1
    organization = await session.get_one(Organization, owner.organization.id)
    await session.refresh(organization)
    account_id = organization.stripe_account_id
    assert account_id is not None

    booking = await paid_booking(session, owner)
    early = await pay.post(
        "/api/v1/payments/create-payment-intent",
        headers=owner.headers,
        json={"booking_id": str(booking.id)},
    )
    assert early.status_code == 409
    assert "onboarding" in early.json()["detail"]

    now = int(time.time())
    enabled = stripe_event(
        "account.updated", _account(account_id, charges=True, payouts=True), created=now
    )
    older = stripe_event(
        "account.updated", _account(account_id, charges=False, payouts=False), created=now - 60
    )
    for event in (enabled, older):
        assert (await deliver(pay, event)).status_code == 200
    status = (await pay.get("/api/v1/billing/status", headers=owner.headers)).json()
    assert status["charges_enabled"] is True and status["payouts_enabled"] is True
    paid = await pay.post(
        "/api/v1/payments/create-payment-intent",
        headers=owner.headers,
        json={"booking_id": str(booking.id)},
    )
    assert paid.status_code == 200
    assert FakeStripe.requests[-1]["params"]["transfer_data[destination]"] == account_id
    trail = (await pay.get("/api/v1/audit?action=payment", headers=owner.headers)).json()
    assert "payment.connect_onboarding" in [e["action"] for e in trail["items"]]


async def test_another_account_s_events_change_nothing(
    pay: AsyncClient, owner: Member, session: AsyncSession
) -> None:
    foreign = stripe_event("account.updated", _account("acct_someone", charges=True, payouts=True))
    answer = await deliver(pay, foreign)
    assert answer.status_code == 200 and answer.json()["outcome"].startswith("ignored")


async def test_a_platform_without_connect_gets_a_clear_answer(
    pay: AsyncClient, owner: Member, session: AsyncSession, settings: Settings
) -> None:
    await enrol_mfa(session, settings, owner)
    FakeStripe.connect_enabled = False
    refused = await pay.post("/api/v1/connect/onboarding", headers=owner.headers)
    assert refused.status_code == 503
    assert "Connect" in refused.json()["detail"]
