"""The practice's details (owner): what its invoices show (legal name, tax id, address, VAT
mention) and its own WhatsApp texts, added to the emergency numbers, never in their place."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError

from kura.db.session import DbSession
from kura.invoices import service as invoices
from kura.invoices.schemas import InvoiceProfileUpdate
from kura.monitoring.practice_texts import update_texts
from kura.monitoring.schemas import MonitoringSettingsUpdate
from kura.orgs.models import Organization
from kura.request_info import client_ip
from kura.workspace.web import (
    PREFIX,
    CheckedForm,
    Owner,
    WorkspaceRoute,
    field_errors,
    form_fields,
    redirect,
    render,
)

router = APIRouter(prefix=PREFIX, route_class=WorkspaceRoute, include_in_schema=False)
PRACTICE = f"{PREFIX}/settings/practice"


async def _page(
    request: Request,
    auth: Owner,
    session: DbSession,
    *,
    status_code: int = 200,
    values: dict[str, object] | None = None,
    errors: dict[str, str] | None = None,
) -> HTMLResponse:
    profile = await invoices.profile_of(session, auth.user.organization_id)
    organization = await session.get_one(Organization, auth.organization.id)
    shown: dict[str, object] = {
        "legal_name": profile.legal_name,
        "tax_id": profile.tax_id,
        "address": profile.address,
        "vat_note": profile.vat_note,
        "monitoring_ack_message": organization.monitoring_ack_message,
        "crisis_resources": organization.crisis_resources,
    }
    return render(
        request,
        "practice.html",
        status_code,
        page="settings",
        values={**shown, **(values or {})},
        errors=errors or {},
        saved=request.query_params.get("saved") == "1",
    )


@router.get("/settings/practice")
async def practice_page(request: Request, auth: Owner, session: DbSession) -> HTMLResponse:
    """The practice's invoicing details and WhatsApp texts."""
    return await _page(request, auth, session)


@router.post("/settings/practice/invoicing")
async def save_invoicing(
    request: Request, auth: Owner, form: CheckedForm, session: DbSession
) -> Response:
    """What the invoices show from now on (issued ones keep theirs)."""
    values = form_fields(form, ("legal_name", "tax_id", "address", "vat_note"))
    try:
        body = InvoiceProfileUpdate.model_validate(values)
    except ValidationError as exc:
        return await _page(
            request,
            auth,
            session,
            status_code=422,
            values=values,
            errors=field_errors(exc, request),
        )
    await invoices.update_profile(session, auth, body, ip=client_ip(request))
    return redirect(f"{PRACTICE}?saved=1")


@router.post("/settings/practice/monitoring")
async def save_texts(
    request: Request, auth: Owner, form: CheckedForm, session: DbSession
) -> Response:
    """The practice's acknowledgement and crisis-resources texts (blank: ours)."""
    names = ("monitoring_ack_message", "crisis_resources")
    values: dict[str, object] = {name: str(form.get(name, "")).strip() for name in names}
    try:
        body = MonitoringSettingsUpdate.model_validate(values)
    except ValidationError as exc:
        return await _page(
            request,
            auth,
            session,
            status_code=422,
            values=values,
            errors=field_errors(exc, request),
        )
    await update_texts(session, auth, body, ip=client_ip(request))
    return redirect(f"{PRACTICE}?saved=1")
