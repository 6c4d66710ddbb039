"""Patients in the workspace: search (accent-insensitive, as the API), add, edit, and the chart
(details, upcoming sessions; notes for clinicians). Reads and writes are audited by the same
services the API calls."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError
from sqlalchemy import select

from kura.auth.sessions import Authenticated
from kura.bookings import service as bookings
from kura.bookings.models import Booking, BookingStatus, Service
from kura.briefings.content import local_today, practice_zone
from kura.clinical import repository as notes
from kura.clinical.audit import audit_notes_shown
from kura.clinical.models import ClinicalNote
from kura.db.base import utcnow
from kura.db.session import DbSession
from kura.errors import KuraError
from kura.patients import service
from kura.patients.models import Patient
from kura.patients.repository import get_readable
from kura.patients.schemas import PatientCreate, PatientUpdate
from kura.request_info import client_ip
from kura.users.models import CLINICAL_ROLES, Role
from kura.web_pages import PageError
from kura.workspace.agenda_pages import clinicians
from kura.workspace.web import (
    PREFIX,
    CheckedForm,
    Staff,
    WorkspaceRoute,
    error_text,
    field_errors,
    form_fields,
    recover,
    redirect,
    render,
)

router = APIRouter(prefix=PREFIX, route_class=WorkspaceRoute, include_in_schema=False)
PAGE_SIZE = 25
CHART_NOTES = 20  # a page of notes, newest first; older ones on the next pages
FIELDS = ("full_name", "email", "phone", "language")


@router.get("/patients")
async def patient_list(
    request: Request,
    auth: Staff,
    session: DbSession,
    q: Annotated[str | None, Query(max_length=100)] = None,
    page: Annotated[int, Query(ge=1, le=10_000)] = 1,
) -> HTMLResponse:
    """The practice's patients by name; search by name, email or phone."""
    query = (q or "").strip() or None
    rows, total = await service.search_patients(
        session, auth, q=query, page=page, page_size=PAGE_SIZE
    )
    await service.audit_listing(
        session, auth, rows, searched=bool(query), page=page, ip=client_ip(request)
    )
    return render(
        request,
        "patients.html",
        page="patients",
        patients=rows,
        total=total,
        q=query or "",
        current=page,
        pages=max(1, -(-total // PAGE_SIZE)),
    )


@router.get("/patients/new")
async def new_patient_form(request: Request, auth: Staff) -> HTMLResponse:
    """The form to add a patient."""
    return render(request, "patient_form.html", page="patients", values={}, errors={})


@router.post("/patients")
async def add_patient(
    request: Request, auth: Staff, form: CheckedForm, session: DbSession
) -> Response:
    """Add the patient; then their chart."""
    values = form_fields(form, FIELDS, checkboxes=("monitoring_consent",))
    try:
        body = PatientCreate.model_validate(values)
        patient = await service.create_patient(session, auth, body, ip=client_ip(request))
    except ValidationError as exc:
        return _form_again(request, values, field_errors(exc, request))
    except KuraError as exc:
        await recover(request)
        page = _form_again(request, values, {"form": error_text(request, exc)}, exc.status_code)
        raise PageError(page) from None
    return redirect(f"{PREFIX}/patients/{patient.id}")


@router.get("/patients/{patient_id}/edit")
async def edit_patient_form(
    patient_id: uuid.UUID, request: Request, auth: Staff, session: DbSession
) -> HTMLResponse:
    """The patient's details, to change."""
    patient = await get_readable(session, auth, patient_id)
    values = {name: getattr(patient, name) or "" for name in FIELDS}
    values["monitoring_consent"] = patient.monitoring_consent
    return render(
        request, "patient_form.html", page="patients", patient=patient, values=values, errors={}
    )


@router.post("/patients/{patient_id}/edit")
async def edit_patient(
    patient_id: uuid.UUID, request: Request, auth: Staff, form: CheckedForm, session: DbSession
) -> Response:
    """Save the changes; then the chart."""
    patient = await get_readable(session, auth, patient_id)
    values = form_fields(form, FIELDS, checkboxes=("monitoring_consent",))
    if auth.user.role not in CLINICAL_ROLES:
        values.pop("monitoring_consent")  # consent is a clinician's to change (as the API)
    try:
        body = PatientUpdate.model_validate(values)
        await service.update_patient(session, auth, patient, body, ip=client_ip(request))
    except ValidationError as exc:
        return _form_again(request, values, field_errors(exc, request), patient=patient)
    except KuraError as exc:
        await recover(request)
        page = _form_again(
            request, values, {"form": error_text(request, exc)}, exc.status_code, patient=patient
        )
        raise PageError(page) from None
    return redirect(f"{PREFIX}/patients/{patient.id}")


@router.get("/patients/{patient_id}")
async def chart(
    patient_id: uuid.UUID,
    request: Request,
    auth: Staff,
    session: DbSession,
    notes_page: Annotated[int, Query(ge=1, le=10_000)] = 1,
) -> HTMLResponse:
    """The chart: details and upcoming sessions; the notes for clinicians, a page at a time."""
    owner = auth.user.role == Role.OWNER
    patient = await get_readable(session, auth, patient_id, include_restricted=owner)
    return await render_chart(request, auth, session, patient, notes_page=notes_page)


async def render_chart(
    request: Request,
    auth: Authenticated,
    session: DbSession,
    patient: Patient,
    *,
    status_code: int = 200,
    draft: dict[str, object] | None = None,
    errors: dict[str, str] | None = None,
    notes_page: int = 1,
) -> HTMLResponse:
    """The chart page (again with the note form's values and errors after a refused note)."""
    ip = client_ip(request)
    await service.audit_view(session, auth, patient, ip=ip)
    chart_notes = None
    if auth.user.role in CLINICAL_ROLES:
        chart_notes = await _notes(session, auth, patient, notes_page)
        await audit_notes_shown(session, auth, patient.id, chart_notes[:CHART_NOTES], ip=ip)
    return render(
        request,
        "patient.html",
        status_code,
        page="patients",
        patient=patient,
        notes=chart_notes[:CHART_NOTES] if chart_notes is not None else None,
        notes_page=notes_page,
        older_notes=chart_notes is not None and len(chart_notes) > CHART_NOTES,
        upcoming=await _upcoming(session, auth, patient),
        services=list(
            await session.scalars(
                bookings.readable_services(auth)
                .where(Service.active.is_(True))
                .order_by(Service.name, Service.id)
            )
        ),
        clinicians=await clinicians(session, auth),
        today=local_today(auth.organization.timezone, utcnow()),
        zone=practice_zone(auth.organization.timezone),
        draft=draft or {},
        errors=errors or {},
    )


async def _notes(
    session: DbSession, auth: Authenticated, patient: Patient, page: int
) -> list[ClinicalNote]:
    """A page of notes, plus one more to tell whether an older page exists."""
    statement = (
        notes.readable(auth)
        .where(ClinicalNote.patient_id == patient.id)
        .order_by(ClinicalNote.created_at.desc(), ClinicalNote.id)
        .limit(CHART_NOTES + 1)
        .offset((page - 1) * CHART_NOTES)
    )
    return list(await session.scalars(statement))


async def _upcoming(
    session: DbSession, auth: Authenticated, patient: Patient
) -> list[tuple[Booking, str]]:
    rows = await session.execute(
        select(Booking, Service.name)
        .join(Service, Service.id == Booking.service_id)
        .where(
            Booking.organization_id == auth.user.organization_id,
            Booking.patient_id == patient.id,
            Booking.starts_at >= utcnow(),
            Booking.status != BookingStatus.CANCELLED,
        )
        .order_by(Booking.starts_at)
        .limit(10)
    )
    return [(booking, name) for booking, name in rows]


def _form_again(
    request: Request,
    values: dict[str, object],
    errors: dict[str, str],
    status_code: int = 422,
    patient: Patient | None = None,
) -> HTMLResponse:
    return render(
        request,
        "patient_form.html",
        status_code,
        page="patients",
        patient=patient,
        values=values,
        errors=errors,
    )
