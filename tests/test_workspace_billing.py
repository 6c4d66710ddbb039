"""Practice billing in the workspace against the local Stripe stand-in: subscribing through
Checkout, the portal, and the payout account behind a fresh two-step code; Stripe's return
links land on this page."""

from __future__ import annotations

from urllib.parse import urlsplit

from httpx import AsyncClient
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from kura.audit.models import AuditEvent
from kura.config import Settings
from kura.users.models import Role
from tests.factories import Member, enrol_mfa, make_staff
from tests.stripe_support import FakeStripe
from tests.workspace_support import answer_code, hidden, sign_in

BILLING = "/app/settings/billing"


def _posted(path: str) -> list[dict[str, str]]:
    return [r["params"] for r in FakeStripe.requests if r["method"] == "POST" and r["path"] == path]


async def test_subscribing_goes_to_checkout_and_its_links_come_back_here(
    pay: AsyncClient, owner: Member, session: AsyncSession, stripe_settings: Settings
) -> None:
    await session.commit()
    await sign_in(pay, owner.user.email)
    page = await pay.get(BILLING)
    assert page.status_code == 200, page.text
    assert "modo de prueba" in page.text and 'value="PRO"' in page.text
    csrf = hidden(page.text, "csrf_token")

    forged = await pay.post(f"{BILLING}/subscribe", data={"tier": "PRO", "csrf_token": "x"})
    assert forged.status_code == 403 and not _posted("/v1/checkout/sessions")
    bad = await pay.post(f"{BILLING}/subscribe", data={"tier": "GOLD", "csrf_token": csrf})
    assert bad.status_code == 400 and "PRO o CENTER" in bad.text
    went = await pay.post(f"{BILLING}/subscribe", data={"tier": "PRO", "csrf_token": csrf})
    assert went.status_code == 303
    assert went.headers["location"].startswith("https://checkout.stripe.test/")
    (checkout,) = _posted("/v1/checkout/sessions")
    for field, notice in (
        ("success_url", "el pago se ha hecho"),
        ("cancel_url", "no se ha cobrado"),
    ):
        back = checkout[field]
        assert back.startswith(stripe_settings.frontend_url + "/settings/billing?checkout=")
        split = urlsplit(back)
        landed = await pay.get(f"{split.path}?{split.query}")
        assert landed.status_code == 200 and notice in landed.text

    portal = await pay.post(f"{BILLING}/portal", data={"csrf_token": csrf})
    assert portal.status_code == 400  # no subscription yet: Stripe has no customer to show


async def test_the_payout_account_needs_two_step_verification_and_a_fresh_code(
    pay: AsyncClient, owner: Member, session: AsyncSession, stripe_settings: Settings
) -> None:
    await session.commit()
    await sign_in(pay, owner.user.email)
    csrf = hidden((await pay.get(BILLING)).text, "csrf_token")
    refused = await pay.post(f"{BILLING}/payouts", data={"csrf_token": csrf})
    assert refused.headers["location"] == f"{BILLING}?connect=need-mfa"
    assert "verificación en dos pasos" in (await pay.get(refused.headers["location"])).text
    assert not _posted("/v1/accounts")

    secret = await enrol_mfa(session, stripe_settings, owner)
    await session.commit()
    pay.cookies.clear()
    assert (await sign_in(pay, owner.user.email)).headers["location"].startswith("/app/mfa")
    await answer_code(pay, secret)
    await session.execute(
        text(
            "UPDATE auth_session SET mfa_verified_at = now() - interval '20 minutes' "
            "WHERE user_id = :user AND revoked_at IS NULL"
        ),
        {"user": owner.user.id},
    )
    await session.commit()
    csrf = hidden((await pay.get(BILLING)).text, "csrf_token")
    stale = await pay.post(f"{BILLING}/payouts", data={"csrf_token": csrf})
    assert stale.status_code == 303 and stale.headers["location"].startswith("/app/mfa?next=")
    assert not _posted("/v1/accounts")
    back = await answer_code(pay, secret, next_path=f"{BILLING}?connect=verified")
    assert back.headers["location"] == f"{BILLING}?connect=verified"

    went = await pay.post(f"{BILLING}/payouts", data={"csrf_token": csrf})
    assert went.status_code == 303
    assert went.headers["location"].startswith("https://connect.stripe.test/setup/")
    (link,) = _posted("/v1/account_links")
    assert link["return_url"] == f"{stripe_settings.frontend_url}/settings/billing?connect=done"
    done = await pay.get(f"{BILLING}?connect=done")
    assert "De vuelta de Stripe" in done.text
    audited = await session.scalar(
        select(AuditEvent).where(
            AuditEvent.actor_id == owner.user.id,
            AuditEvent.action == "payment.connect_onboarding",
        )
    )
    assert audited is not None


async def test_only_the_owner_sees_billing(
    pay: AsyncClient, owner: Member, session: AsyncSession, stripe_settings: Settings
) -> None:
    therapist = await make_staff(session, stripe_settings, owner.organization, Role.THERAPIST)
    await session.commit()
    await sign_in(pay, therapist.user.email)
    page = await pay.get(BILLING)
    assert page.status_code == 403
    csrf = hidden((await pay.get("/app")).text, "csrf_token")
    assert (
        await pay.post(f"{BILLING}/subscribe", data={"tier": "PRO", "csrf_token": csrf})
    ).status_code == 403
    assert not _posted("/v1/checkout/sessions")
