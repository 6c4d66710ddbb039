"""/api/v1/patients: the practice's patients (any staff role; clinical notes are separate)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from kura.auth.dependencies import CurrentAuth
from kura.db.session import DbSession
from kura.handlers import Responses
from kura.pagination import Pagination
from kura.patients import retention, service
from kura.patients.models import Patient
from kura.patients.repository import get_readable
from kura.patients.schemas import (
    PatientCreate,
    PatientPage,
    PatientRead,
    PatientUpdate,
    RestrictRequest,
)
from kura.request_info import client_ip
from kura.users.models import Role

router = APIRouter(prefix="/patients", tags=["patients"])
NOT_FOUND: Responses = {404: {"description": "No such patient in your organization"}}
WRITE_ERRORS: Responses = {
    400: {"description": "assigned_therapist_id is not an active clinician of your practice"},
    403: {"description": "Consent changed by an assistant, or your email is not confirmed"},
    409: {"description": "Another patient of your practice has this phone number"},
}


@router.get("", response_model=PatientPage)
async def list_patients(
    auth: CurrentAuth,
    request: Request,
    session: DbSession,
    pages: Pagination,
    q: Annotated[str | None, Query(max_length=100, description="Name, email or phone")] = None,
    deleted: Annotated[
        bool, Query(description="Only the deleted patients awaiting erasure (owner only)")
    ] = False,
) -> PatientPage:
    """Your organization's patients, by name, with search and pagination."""
    if deleted:
        retention.require_owner(auth, "see deleted patients")
    rows, total = await service.search_patients(
        session, auth, q=q, page=pages.page, page_size=pages.page_size, restricted=deleted
    )
    await service.audit_listing(
        session, auth, rows, searched=bool(q), page=pages.page, ip=client_ip(request)
    )
    return PatientPage.of(rows, total, pages)


@router.post("", response_model=PatientRead, status_code=201, responses=WRITE_ERRORS)
async def create_patient(
    body: PatientCreate, auth: CurrentAuth, request: Request, session: DbSession
) -> Patient:
    """Add a patient."""
    return await service.create_patient(session, auth, body, ip=client_ip(request))


@router.get("/{patient_id}", response_model=PatientRead, responses=NOT_FOUND)
async def get_patient(
    patient_id: uuid.UUID, auth: CurrentAuth, request: Request, session: DbSession
) -> Patient:
    """One patient (the read is audited); the owner also sees a deleted one."""
    patient = await get_readable(
        session, auth, patient_id, include_restricted=auth.user.role == Role.OWNER
    )
    await service.audit_view(session, auth, patient, ip=client_ip(request))
    return patient


@router.patch("/{patient_id}", response_model=PatientRead, responses={**NOT_FOUND, **WRITE_ERRORS})
async def update_patient(
    patient_id: uuid.UUID,
    body: PatientUpdate,
    auth: CurrentAuth,
    request: Request,
    session: DbSession,
) -> Patient:
    """Change a patient's details or monitoring consent."""
    patient = await get_readable(session, auth, patient_id)
    return await service.update_patient(session, auth, patient, body, ip=client_ip(request))


OWNER_ERRORS: Responses = {
    **NOT_FOUND,
    400: {"description": "discharged_on in the future or before the last note or session"},
    403: {"description": "Only the practice owner can delete or undelete"},
    409: {"description": "Already deleted, not deleted, or upcoming bookings to cancel first"},
}


@router.delete("/{patient_id}", status_code=204, responses=OWNER_ERRORS)
async def delete_patient(
    patient_id: uuid.UUID, auth: CurrentAuth, request: Request, session: DbSession
) -> Response:
    """Delete a patient (OWNER): the record is restricted and erased when its retention ends."""
    patient = await get_readable(session, auth, patient_id)
    await retention.restrict_patient(
        session, auth, patient, discharged_on=None, ip=client_ip(request)
    )
    return Response(status_code=204)


@router.post("/{patient_id}/restrict", response_model=PatientRead, responses=OWNER_ERRORS)
async def restrict_patient(
    patient_id: uuid.UUID,
    body: RestrictRequest,
    auth: CurrentAuth,
    request: Request,
    session: DbSession,
) -> Patient:
    """Delete a patient giving the discharge date that their record's retention counts from."""
    patient = await get_readable(session, auth, patient_id)
    return await retention.restrict_patient(
        session, auth, patient, discharged_on=body.discharged_on, ip=client_ip(request)
    )


@router.post("/{patient_id}/unrestrict", response_model=PatientRead, responses=OWNER_ERRORS)
async def unrestrict_patient(
    patient_id: uuid.UUID, auth: CurrentAuth, request: Request, session: DbSession
) -> Patient:
    """Undelete a patient before the erasure (monitoring stays off until they re-enroll)."""
    patient = await get_readable(session, auth, patient_id, include_restricted=True)
    return await retention.lift_restriction(session, auth, patient, ip=client_ip(request))
