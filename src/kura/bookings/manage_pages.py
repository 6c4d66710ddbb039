"""/book/manage/{token}: the page a patient's manage link opens — the booking, pay it online
(Stripe Checkout), or cancel it within the window. No account: the token is the key, so forms
need no CSRF token (a forged form would have to know it), and the page is never cached."""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from kura.bookings import public
from kura.bookings.links import manage_url
from kura.briefings.content import practice_zone
from kura.db.session import DbSession, get_database
from kura.errors import KuraError
from kura.i18n import language, text
from kura.i18n.errors import localize_error
from kura.patients.models import Patient
from kura.request_info import client_ip

if TYPE_CHECKING:
    from jinja2 import Environment

router = APIRouter(prefix="/book/manage", include_in_schema=False)
PAGE_HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": "default-src 'none'; style-src 'self'; form-action 'self' "
    "https://checkout.stripe.com; base-uri 'none'; frame-ancestors 'none'",
    "Referrer-Policy": "no-referrer",  # the token is in the address
    "X-Frame-Options": "DENY",
}


@functools.cache
def _templates() -> Environment:
    from jinja2 import Environment, PackageLoader, select_autoescape

    return Environment(
        loader=PackageLoader("kura.bookings", "templates"), autoescape=select_autoescape()
    )


def _page(lang: str, status_code: int = 200, **context: object) -> HTMLResponse:
    html = (
        _templates()
        .get_template("manage.html")
        .render(lang=lang, t=lambda key, **kw: text(lang, f"manage.{key}", **kw), **context)
    )
    return HTMLResponse(html, status_code=status_code, headers=PAGE_HEADERS)


async def _view(
    request: Request,
    session: DbSession,
    token: str,
    *,
    notice: str | None = None,
    refused: KuraError | None = None,
) -> Response:
    try:
        booking, service, organization = await public.by_token(session, token)
    except KuraError:
        return _page(language(request.headers.get("accept-language")), 404, missing=True)
    patient = await session.get(Patient, booking.patient_id)
    lang = language(patient.language if patient else organization.locale)
    zone = practice_zone(organization.timezone)
    return _page(
        lang,
        refused.status_code if refused else 200,
        booking=booking,
        service=service,
        organization=organization,
        starts=booking.starts_at.astimezone(zone),
        deadline=public.changes_allowed_until(booking, service).astimezone(zone),
        payment_due=await public.payment_due(session, booking),
        notice=notice,
        refused=localize_error(refused.detail, lang) if refused else None,
        token=token,
    )


@router.get("/{token}", response_class=HTMLResponse)
async def manage_page(
    token: str, request: Request, session: DbSession, checkout: str | None = None
) -> Response:
    """The booking behind a manage link, with pay and cancel buttons."""
    await public.spend_for_ip(get_database(request), public.READS_PER_IP, client_ip(request))
    notice = {"success": "paid_notice", "cancelled": "unpaid_notice"}.get(checkout or "")
    return await _view(request, session, token, notice=notice)


@router.post("/{token}/pay")
async def pay(token: str, request: Request, session: DbSession) -> Response:
    """Off to Stripe Checkout (303), or the page again with the reason it cannot be paid."""
    from kura.payments.booking_checkout import start_checkout

    ip = client_ip(request)
    await public.spend_for_ip(get_database(request), public.CHANGES_PER_IP, ip)
    try:
        booking, service, organization = await public.by_token(session, token, lock=True)
        settings = request.app.state.settings
        url = await start_checkout(
            session,
            settings,
            booking,
            service,
            organization,
            return_url=manage_url(settings, booking.id),
            ip=ip,
        )
    except KuraError as error:
        await session.rollback()
        return await _view(request, session, token, refused=error)
    await session.commit()
    return RedirectResponse(url, status_code=303)


@router.post("/{token}/cancel")
async def cancel(token: str, request: Request, session: DbSession) -> Response:
    """Cancel within the window (a payment goes back by itself), then the page again."""
    ip = client_ip(request)
    await public.spend_for_ip(get_database(request), public.CHANGES_PER_IP, ip)
    try:
        booking, service, organization = await public.by_token(session, token, lock=True)
        await public.cancel(session, booking, service, organization, ip=ip)
    except KuraError as error:
        await session.rollback()
        return await _view(request, session, token, refused=error)
    await session.commit()
    return RedirectResponse(f"/book/manage/{token}", status_code=303)


def install_manage_pages(app: FastAPI) -> None:
    from fastapi.staticfiles import StaticFiles

    app.include_router(router)
    static = StaticFiles(packages=[("kura.bookings", "static")])
    app.mount("/book/static", static, name="booking-static")
