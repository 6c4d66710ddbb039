"""Practice billing for the owner: the subscription (Stripe Checkout and billing portal) and the
payout account patients pay into (Stripe Connect onboarding, behind a fresh two-step code).
Stripe's own pages do the rest; their return and cancel links land back here."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from kura.auth import mfa
from kura.auth.stepup import StepUpRequired, require_fresh_mfa
from kura.db.session import DbSession
from kura.orgs.models import Organization
from kura.payments import connect, service
from kura.payments.service import ACTIVE_SUBSCRIPTION
from kura.payments.stripe_client import stripe_mode
from kura.request_info import client_ip
from kura.web_pages import settings_of
from kura.workspace.web import PREFIX, CheckedForm, Owner, WorkspaceRoute, redirect, render

router = APIRouter(prefix=PREFIX, route_class=WorkspaceRoute, include_in_schema=False)
BILLING = f"{PREFIX}/settings/billing"
CHECKOUT_RETURNS = {"success", "cancelled"}  # Stripe Checkout's return and cancel links
CONNECT_RETURNS = {"done", "refresh", "verified", "need-mfa"}  # Connect's links, then ours


@router.get("/settings/billing")
async def billing_page(
    request: Request,
    auth: Owner,
    session: DbSession,
    checkout: Annotated[str | None, Query(max_length=20)] = None,
    connect_: Annotated[str | None, Query(alias="connect", max_length=20)] = None,
) -> HTMLResponse:
    """The practice's plan, subscription and payout account."""
    organization = await session.get_one(Organization, auth.organization.id)
    returned = checkout if checkout in CHECKOUT_RETURNS else None
    returned_connect = connect_ if connect_ in CONNECT_RETURNS else None
    return render(
        request,
        "billing.html",
        page="settings",
        organization=organization,
        subscribed=organization.subscription_status in ACTIVE_SUBSCRIPTION,
        mode=stripe_mode(settings_of(request)),
        checkout_notice=returned,
        connect_notice=returned_connect,
        has_mfa=await mfa.is_enabled(session, auth.user.id),
    )


@router.post("/settings/billing/subscribe")
async def subscribe(
    request: Request, auth: Owner, form: CheckedForm, session: DbSession
) -> RedirectResponse:
    """Go to Stripe Checkout for the chosen plan."""
    tier = str(form.get("tier", ""))[:20]
    return redirect(await service.checkout_url(session, settings_of(request), auth, tier))


@router.post("/settings/billing/portal")
async def portal(
    request: Request, auth: Owner, form: CheckedForm, session: DbSession
) -> RedirectResponse:
    """Go to Stripe's billing portal: card, invoices, cancelling."""
    organization = await session.get_one(Organization, auth.organization.id)
    return redirect(await service.portal_url(settings_of(request), organization))


@router.post("/settings/billing/payouts")
async def payouts(request: Request, auth: Owner, form: CheckedForm, session: DbSession) -> Response:
    """Set up (or finish) the payout account on Stripe; needs a code from the last 10 minutes."""
    ip = client_ip(request)
    if not await mfa.is_enabled(session, auth.user.id):
        return redirect(f"{BILLING}?connect=need-mfa")
    try:
        await require_fresh_mfa(session, auth, ip=ip, action=request.url.path)
    except StepUpRequired:  # its refusal is already audited and committed
        return redirect(f"{PREFIX}/mfa?next={quote(BILLING + '?connect=verified')}")
    url, _expires = await connect.onboarding_link(session, settings_of(request), auth, ip=ip)
    return redirect(url)
