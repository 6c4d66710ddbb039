"""Issuing invoices: one per succeeded booking payment, numbered in the same transaction.

The counter row (practice, year) is bumped with an upsert that locks it: two payments of one
practice at once are numbered one after the other, and a rolled-back payment gives its number
back (the counter rolls back with it), so the series has no gaps.
"""

from __future__ import annotations

import uuid

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from kura.audit.service import AuditAction, record
from kura.auth.sessions import Authenticated
from kura.bookings.models import Booking, Service
from kura.db.base import utcnow
from kura.errors import Conflict
from kura.invoices.models import (
    DEFAULT_VAT_NOTE,
    RECTIFYING,
    Invoice,
    InvoiceCounter,
    InvoiceProfile,
)
from kura.invoices.schemas import InvoiceProfileUpdate
from kura.orgs.models import Organization
from kura.patients.models import Patient
from kura.payments.models import Payment


async def next_number(
    session: AsyncSession, organization_id: uuid.UUID, year: int, series: str = ""
) -> int:
    bump = (
        insert(InvoiceCounter)
        .values(organization_id=organization_id, series=series, year=year, last=1)
        .on_conflict_do_update(
            index_elements=["organization_id", "series", "year"],
            set_={"last": InvoiceCounter.last + 1},
        )
        .returning(InvoiceCounter.last)
    )
    return int((await session.execute(bump)).scalar_one())


async def profile_of(session: AsyncSession, organization_id: uuid.UUID) -> InvoiceProfile:
    profile = await session.get(InvoiceProfile, organization_id)
    if profile is None:
        profile = InvoiceProfile(organization_id=organization_id, vat_note=DEFAULT_VAT_NOTE)
        session.add(profile)
        await session.flush()
    return profile


async def update_profile(
    session: AsyncSession, auth: Authenticated, body: InvoiceProfileUpdate, *, ip: str | None
) -> InvoiceProfile:
    """The legal name, tax id, address and VAT mention the practice's invoices show."""
    profile = await profile_of(session, auth.user.organization_id)
    profile.legal_name, profile.tax_id, profile.address = body.legal_name, body.tax_id, body.address
    if body.vat_note:
        profile.vat_note = body.vat_note
    await session.flush()
    await record(
        session,
        AuditAction.PRACTICE_SETTINGS_UPDATED,
        organization_id=auth.user.organization_id,
        actor_id=auth.user.id,
        target_type="organization",
        target_id=auth.user.organization_id,
        ip=ip,
        details={"fields": ["invoicing"]},
    )
    return profile


async def issue_for_payment(session: AsyncSession, payment: Payment) -> Invoice | None:
    """The payment's invoice (made once: a redelivered event finds the one it made)."""
    existing = await session.scalar(select(Invoice).where(Invoice.payment_id == payment.id))
    if existing is not None or payment.booking_id is None or payment.succeeded_at is None:
        return existing
    row = (
        await session.execute(
            select(Booking, Patient, Service)
            .join(Patient, Patient.id == Booking.patient_id)
            .join(Service, Service.id == Booking.service_id)
            .where(Booking.id == payment.booking_id)
        )
    ).one_or_none()
    if row is None:
        return None
    booking, patient, service = row
    organization = await session.get_one(Organization, payment.organization_id)
    profile = await profile_of(session, organization.id)
    year = payment.succeeded_at.year
    sequence = await next_number(session, organization.id, year)
    invoice = Invoice(
        organization_id=organization.id,
        payment_id=payment.id,
        year=year,
        sequence=sequence,
        number=f"{year}-{sequence:06d}",
        issued_at=payment.succeeded_at,
        seller_name=profile.legal_name or None,
        seller_tax_id=profile.tax_id or None,
        seller_address=profile.address or None,
        vat_note=profile.vat_note,
        customer_name=patient.full_name,
        customer_email=patient.email,
        description=f"{service.name} — {booking.starts_at:%Y-%m-%d %H:%M} UTC"[:300],
        amount_cents=payment.amount_cents,
        currency=payment.currency,
    )
    session.add(invoice)
    await session.flush()
    return invoice


async def rectify_for_refunds(session: AsyncSession, payment: Payment) -> Invoice | None:
    """A rectifying invoice for what was refunded since the last one (a negative amount in
    the R series, naming the invoice it corrects); none when nothing new was refunded."""
    original = await session.scalar(
        select(Invoice).where(Invoice.payment_id == payment.id).with_for_update()
    )
    if original is None:
        return None
    rectified = -int(
        await session.scalar(
            select(func.coalesce(func.sum(Invoice.amount_cents), 0)).where(
                Invoice.rectifies_id == original.id
            )
        )
        or 0
    )
    step = payment.refunded_cents - rectified
    if step <= 0:
        return None
    now = utcnow()
    sequence = await next_number(session, original.organization_id, now.year, RECTIFYING)
    rectifying = Invoice(
        organization_id=original.organization_id,
        series=RECTIFYING,
        rectifies_id=original.id,
        refunded_total_cents=payment.refunded_cents,
        year=now.year,
        sequence=sequence,
        number=f"{RECTIFYING}{now.year}-{sequence:06d}",
        issued_at=now,
        seller_name=original.seller_name,
        seller_tax_id=original.seller_tax_id,
        seller_address=original.seller_address,
        vat_note=original.vat_note,
        customer_name=original.customer_name,
        customer_email=original.customer_email,
        description=f"Rectifica la factura {original.number}: devolución"[:300],
        amount_cents=-step,
        currency=original.currency,
    )
    session.add(rectifying)
    await session.flush()
    return rectifying


async def complete_seller(session: AsyncSession, invoice: Invoice) -> Invoice:
    """An invoice issued before the owner filled in the practice's details takes them at its
    first download; without a legal name and tax id it cannot be handed out (409)."""
    if invoice.seller_name and invoice.seller_tax_id:
        return invoice
    profile = await profile_of(session, invoice.organization_id)
    if not (profile.legal_name and profile.tax_id):
        raise Conflict(
            "Fill in your practice's legal name and tax id (PUT /api/v1/practice/invoicing) "
            "before handing out invoices: an invoice must show them."
        )
    invoice.seller_name, invoice.seller_tax_id = profile.legal_name, profile.tax_id
    invoice.seller_address = invoice.seller_address or profile.address
    await session.flush()
    return invoice
