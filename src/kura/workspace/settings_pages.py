"""Practice settings: the team (invite, role, access; the owner) and the services offered
(add, withdraw; clinicians, as the API). Billing has its own module."""

from __future__ import annotations

import uuid
from decimal import Decimal, InvalidOperation

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from kura.bookings import service as bookings
from kura.bookings.models import Service
from kura.bookings.schemas import ServiceCreate
from kura.db.session import DbSession
from kura.errors import KuraError
from kura.request_info import client_ip
from kura.users import service as users
from kura.users import team
from kura.users.models import Role
from kura.users.schemas import StaffCreate, StaffUpdate
from kura.web_pages import PageError, settings_of
from kura.workspace.web import (
    PREFIX,
    CheckedForm,
    Clinician,
    Owner,
    WorkspaceRoute,
    error_text,
    field_errors,
    form_fields,
    recover,
    redirect,
    render,
)

router = APIRouter(prefix=PREFIX, route_class=WorkspaceRoute, include_in_schema=False)
TEAM = f"{PREFIX}/settings/team"
SERVICES = f"{PREFIX}/settings/services"


async def _team_page(
    request: Request,
    auth: Owner,
    session: DbSession,
    *,
    status_code: int = 200,
    values: dict[str, object] | None = None,
    errors: dict[str, str] | None = None,
) -> HTMLResponse:
    members = list(await session.scalars(users.staff_of(auth.user.organization_id)))
    return render(
        request,
        "team.html",
        status_code,
        page="settings",
        members=members,
        roles=[role.value for role in Role],
        values=values or {},
        errors=errors or {},
        invited=request.query_params.get("invited") == "1",
    )


@router.get("/settings/team")
async def team_page(request: Request, auth: Owner, session: DbSession) -> HTMLResponse:
    """The practice's people: roles and access; invite someone."""
    return await _team_page(request, auth, session)


@router.post("/settings/team")
async def invite(request: Request, auth: Owner, form: CheckedForm, session: DbSession) -> Response:
    """Invite a team member: they get an email naming you and the practice."""
    values = form_fields(form, ("email", "full_name", "role"))
    try:
        body = StaffCreate.model_validate(values)
    except ValidationError as exc:
        return await _team_page(
            request,
            auth,
            session,
            status_code=422,
            values=values,
            errors=field_errors(exc, request),
        )
    try:
        await team.invite(session, settings_of(request), auth, body, ip=client_ip(request))
    except KuraError as exc:
        await recover(request)
        page = await _team_page(
            request,
            auth,
            session,
            status_code=exc.status_code,
            values=values,
            errors={"form": error_text(request, exc)},
        )
        raise PageError(page) from None
    return redirect(f"{TEAM}?invited=1")


@router.post("/settings/team/{user_id}")
async def change_member(
    user_id: uuid.UUID, request: Request, auth: Owner, form: CheckedForm, session: DbSession
) -> RedirectResponse:
    """A member's new role, or access ended / given back."""
    member = await users.get_staff(session, auth.user.organization_id, user_id)
    wanted = form_fields(form, ("role",), checkboxes=("is_active",))
    try:
        body = StaffUpdate.model_validate(wanted)
    except ValidationError:
        raise PageError(redirect(TEAM)) from None
    await team.change(session, auth, member, body, ip=client_ip(request))
    return redirect(TEAM)


async def _services_page(
    request: Request,
    auth: Clinician,
    session: DbSession,
    *,
    status_code: int = 200,
    values: dict[str, object] | None = None,
    errors: dict[str, str] | None = None,
) -> HTMLResponse:
    offered = await session.scalars(
        bookings.readable_services(auth).order_by(Service.active.desc(), Service.name, Service.id)
    )
    return render(
        request,
        "services.html",
        status_code,
        page="settings",
        services=list(offered),
        values=values or {},
        errors=errors or {},
    )


@router.get("/settings/services")
async def services_page(request: Request, auth: Clinician, session: DbSession) -> HTMLResponse:
    """The services the practice offers: duration, price, online booking."""
    return await _services_page(request, auth, session)


@router.post("/settings/services")
async def add_service(
    request: Request, auth: Clinician, form: CheckedForm, session: DbSession
) -> Response:
    """Offer a new service."""
    values = form_fields(form, ("name", "duration_minutes", "price"), ("bookable_online",))
    try:
        cents = int(Decimal(str(values.get("price", "0")).replace(",", ".")) * 100)
    except InvalidOperation:
        cents = -1  # refused below, beside the field
    try:
        body = ServiceCreate.model_validate(
            {
                "name": values.get("name"),
                "duration_minutes": values.get("duration_minutes"),
                "price_cents": cents,
                "bookable_online": values["bookable_online"],
            }
        )
    except ValidationError as exc:
        errors = {
            ("price" if k == "price_cents" else k): v for k, v in field_errors(exc, request).items()
        }
        return await _services_page(
            request, auth, session, status_code=422, values=values, errors=errors
        )
    session.add(Service(organization_id=auth.user.organization_id, **body.model_dump()))
    await session.flush()
    return redirect(SERVICES)


@router.post("/settings/services/{service_id}/withdraw")
async def withdraw_service(
    service_id: uuid.UUID, request: Request, auth: Clinician, form: CheckedForm, session: DbSession
) -> RedirectResponse:
    """Stop offering the service; its bookings stay."""
    service = await bookings.get_service(session, auth, service_id)
    service.active = False
    await session.flush()
    return redirect(SERVICES)
