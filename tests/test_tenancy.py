"""Tenancy, proven over every route: another organization's ids answer 404, and ASSISTANTs get
403 on clinical routes. New routes with ids are picked up from the OpenAPI schema automatically."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta

from fastapi import FastAPI
from httpx import AsyncClient
from sqlalchemy.ext.asyncio import AsyncSession

from kura.bookings.models import AvailabilityException, Booking, ExceptionKind, Service
from kura.clinical.models import ClinicalNote
from kura.config import Settings
from kura.exports.models import DataExport, ExportKind
from kura.invoices.models import Invoice
from kura.monitoring.models import RiskAlert
from kura.users.models import Role
from tests.clock_support import local, offset, week_ahead
from tests.factories import make_owner, make_patient, make_staff

# Times a week or more ahead of the real today (tests/clock_support.py): the answers must be
# 404 because the data is another practice's, never because a time has passed.
WEEK = week_ahead()
SOON = local(WEEK, 10)
HOLIDAY = local(WEEK + timedelta(days=17), 0)

# A valid body for each operation that takes one (a route missing here fails the test).
BODIES: dict[tuple[str, str], dict[str, object]] = {
    ("patch", "/api/v1/patients/{patient_id}"): {"full_name": "Cambiado"},
    ("post", "/api/v1/patients/{patient_id}/notes"): {"content": "Nota"},
    ("patch", "/api/v1/notes/{note_id}"): {"content": "Cambiada"},
    ("post", "/api/v1/notes/{note_id}/addenda"): {"content": "Añadido"},
    ("post", "/api/v1/notes/{note_id}/strike"): {"reason": "Paciente equivocado"},
    ("post", "/api/v1/patients/{patient_id}/restrict"): {},
    ("post", "/api/v1/bookings/{booking_id}/refund"): {},
    ("patch", "/api/v1/staff/{user_id}"): {"role": "ASSISTANT"},
    ("patch", "/api/v1/admin/users/{user_id}"): {"is_superuser": True},
    ("patch", "/api/v1/admin/organizations/{organization_id}"): {"whatsapp_number": None},
    ("patch", "/api/v1/monitoring/settings"): {"monitoring_ack_message": "Hola"},
    ("patch", "/api/v1/services/{service_id}"): {"name": "Otro"},
    ("patch", "/api/v1/bookings/{booking_id}"): {"status": "CANCELLED"},
    ("put", "/api/v1/staff/{user_id}/availability/weekly"): {
        "hours": [{"weekday": 0, "starts_at": "09:00", "ends_at": "13:00"}]
    },
    ("post", "/api/v1/staff/{user_id}/availability/time-off"): {
        "starts_at": offset(HOLIDAY),
        "ends_at": offset(HOLIDAY + timedelta(days=3)),
    },
    ("post", "/api/v1/staff/{user_id}/availability/openings"): {
        "starts_at": offset(local(WEEK + timedelta(days=21), 9)),
        "ends_at": offset(local(WEEK + timedelta(days=21), 13)),
    },
    ("post", "/api/v1/public/booking/{practice_slug}/bookings"): {
        "service_id": "00000000-0000-0000-0000-000000000000",
        "starts_at": offset(SOON),
        "full_name": "Ana",
        "email": "ana@example.org",
        "consents": {"privacy": True},
    },
    ("post", "/api/v1/public/booking/manage/{token}/reschedule"): {"starts_at": offset(SOON)},
}
# Platform routes act across organizations by design; for non-superusers they answer 403.
PLATFORM_ROUTES = {
    "/api/v1/admin/users/{user_id}",
    "/api/v1/admin/users/{user_id}/verify-email",
    "/api/v1/admin/organizations/{organization_id}",
    "/api/v1/admin/backups/{filename}/download",
    "/api/v1/admin/backups/{filename}",
}
# Bookings are not here: assistants run the agenda (tests/test_hardening_auth.py).
CLINICAL_TAGS = {"notes", "monitoring"}


def _id_routes(app: FastAPI) -> list[tuple[str, str, dict[str, object]]]:
    routes = []
    for path, item in app.openapi()["paths"].items():
        if "{" not in path:
            continue
        for method, operation in item.items():
            routes.append((method, path, operation))
    return routes


async def test_every_id_route_hides_other_organizations(
    app: FastAPI, client: AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    victim = await make_owner(session, settings)
    victim_staff = await make_staff(session, settings, victim.organization, Role.THERAPIST)
    patient = await make_patient(session, victim.organization)
    note = ClinicalNote(
        organization_id=victim.organization.id, patient_id=patient.id, content="privado"
    )
    alert = RiskAlert(
        organization_id=victim.organization.id,
        patient_id=patient.id,
        source="screen",
        level=2,
        risk="HIGH",
        flags=["suicidal_ideation"],
    )
    service = Service(
        organization_id=victim.organization.id,
        name="Sesión",
        duration_minutes=60,
        price_cents=6000,
        currency="eur",
        capacity=1,
        active=True,
    )
    session.add_all([note, alert, service])
    await session.flush()
    booking = Booking(
        organization_id=victim.organization.id,
        patient_id=patient.id,
        service_id=service.id,
        starts_at=SOON,
        ends_at=SOON + timedelta(hours=1),
        amount_cents=6000,
        currency="eur",
    )
    session.add(booking)
    time_off = AvailabilityException(
        organization_id=victim.organization.id,
        therapist_id=victim_staff.user.id,
        kind=ExceptionKind.TIME_OFF,
        starts_at=HOLIDAY,
        ends_at=HOLIDAY + timedelta(days=1),
    )
    session.add(time_off)
    await session.flush()
    invoice = Invoice(
        organization_id=victim.organization.id,
        year=2026,
        sequence=1,
        number="2026-000001",
        vat_note="exenta",
        customer_name="Paciente",
        description="Sesión",
        amount_cents=6000,
        currency="eur",
    )
    session.add(invoice)
    await session.flush()
    export = DataExport(
        organization_id=victim.organization.id,
        requested_by_id=victim.user.id,
        kind=ExportKind.PATIENT,
        patient_id=patient.id,
    )
    session.add(export)
    await session.flush()
    ids = {
        "export_id": export.id,
        "service_id": service.id,
        "booking_id": booking.id,
        "alert_id": alert.id,
        "patient_id": patient.id,
        "note_id": note.id,
        "user_id": victim_staff.user.id,
        "organization_id": victim.organization.id,
        "filename": "backup_2026-01-01_00-00.sql.gz",
        "entry_id": time_off.id,
        "invoice_id": invoice.id,
        # Public routes are reached by address and link, not by membership (anyone may use
        # the victim's real slug): unknown ones must be 404, never 500.
        "practice_slug": "no-such-practice",
        "token": "not-a-manage-token-0123456789",
    }
    intruder = await make_owner(session, settings)

    routes = _id_routes(app)
    assert len(routes) >= 9  # the walk really walks
    for method, path, operation in routes:
        names = re.findall(r"{(\w+)}", path)
        missing = [n for n in names if n not in ids]
        assert not missing, f"{method.upper()} {path}: add an id for {missing} to this test"
        url = path.format(**{n: ids[n] for n in names})
        body = None
        if "requestBody" in operation:
            assert (method, path) in BODIES, f"{method.upper()} {path}: add a body to BODIES"
            body = BODIES[(method, path)]
        response = await client.request(method, url, headers=intruder.headers, json=body)
        expected = 403 if path in PLATFORM_ROUTES else 404
        assert response.status_code == expected, (method, path, response.text)

    # The victim's data is untouched and still theirs.
    mine = await client.get(f"/api/v1/patients/{patient.id}", headers=victim.headers)
    assert mine.status_code == 200 and mine.json()["full_name"] == patient.full_name


async def test_random_ids_are_404_not_500(
    app: FastAPI, client: AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    member = await make_owner(session, settings)
    for method, path, operation in _id_routes(app):
        if path in PLATFORM_ROUTES:
            continue
        url = re.sub(r"{\w+}", str(uuid.uuid4()), path)
        body = BODIES.get((method, path)) if "requestBody" in operation else None
        response = await client.request(method, url, headers=member.headers, json=body)
        assert response.status_code == 404, (method, path)
        malformed = await client.request(
            method, re.sub(r"{\w+}", "..%2F..%2Fetc", path), headers=member.headers, json=body
        )
        assert malformed.status_code in (404, 422), (method, path, malformed.status_code)


async def test_assistants_get_403_on_every_clinical_route(
    app: FastAPI, client: AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    owner = await make_owner(session, settings)
    assistant = await make_staff(session, settings, owner.organization, Role.ASSISTANT)
    patient = await make_patient(session, owner.organization)
    note = ClinicalNote(organization_id=owner.organization.id, patient_id=patient.id, content="c")
    session.add(note)
    await session.flush()
    ids = {
        "patient_id": patient.id,
        "note_id": note.id,
        "alert_id": uuid.uuid4(),
        "service_id": uuid.uuid4(),
        "booking_id": uuid.uuid4(),
    }
    clinical = [
        (method, path, operation)
        for path, item in app.openapi()["paths"].items()
        for method, operation in item.items()
        if set(operation.get("tags", [])) & CLINICAL_TAGS
    ]
    assert len(clinical) >= 5
    for method, path, operation in clinical:
        url = path.format(**{n: ids[n] for n in re.findall(r"{(\w+)}", path)})
        body = BODIES.get((method, path)) if "requestBody" in operation else None
        response = await client.request(method, url, headers=assistant.headers, json=body)
        assert response.status_code == 403, (method, path)
