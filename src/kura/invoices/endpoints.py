"""/api/v1/invoices and /api/v1/practice/invoicing: the practice's invoices (OWNER only)."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Request, Response
from sqlalchemy import select

from kura.audit.service import AuditAction, record
from kura.auth.dependencies import Owner
from kura.db.session import DbSession
from kura.errors import NotFound
from kura.handlers import Responses
from kura.invoices import pdf, service
from kura.invoices.models import Invoice, InvoiceProfile
from kura.invoices.schemas import InvoicePage, InvoiceProfileRead, InvoiceProfileUpdate
from kura.pagination import Pagination, paginate
from kura.request_info import client_ip

router = APIRouter(tags=["invoices"])
OWNER_ONLY: Responses = {403: {"description": "Not the practice owner"}}


@router.get("/practice/invoicing", response_model=InvoiceProfileRead, responses=OWNER_ONLY)
async def get_invoicing(auth: Owner, session: DbSession) -> InvoiceProfile:
    """The practice's details as its invoices show them."""
    return await service.profile_of(session, auth.user.organization_id)


@router.put("/practice/invoicing", response_model=InvoiceProfileRead, responses=OWNER_ONLY)
async def update_invoicing(
    body: InvoiceProfileUpdate, auth: Owner, request: Request, session: DbSession
) -> InvoiceProfile:
    """Set the legal name, tax id, address and VAT mention of the practice's invoices."""
    return await service.update_profile(session, auth, body, ip=client_ip(request))


@router.get("/invoices", response_model=InvoicePage, responses=OWNER_ONLY)
async def list_invoices(auth: Owner, session: DbSession, pages: Pagination) -> InvoicePage:
    """The practice's invoices, newest number first."""
    statement = (
        select(Invoice)
        .where(Invoice.organization_id == auth.user.organization_id)
        .order_by(Invoice.issued_at.desc(), Invoice.series, Invoice.sequence.desc())
    )
    rows, total = await paginate(session, statement, pages)
    return InvoicePage.of(rows, total, pages)


@router.get(
    "/invoices/{invoice_id}/pdf",
    response_class=Response,
    responses={
        200: {
            "content": {"application/pdf": {"schema": {"type": "string", "format": "binary"}}},
            "description": "The invoice",
        },
        **OWNER_ONLY,
        404: {"description": "No such invoice in your practice"},
        409: {"description": "The practice's legal name or tax id is missing"},
    },
)
async def invoice_pdf(
    invoice_id: uuid.UUID, auth: Owner, request: Request, session: DbSession
) -> Response:
    """One invoice as a PDF."""
    invoice = await session.scalar(
        select(Invoice).where(
            Invoice.id == invoice_id, Invoice.organization_id == auth.user.organization_id
        )
    )
    if invoice is None:
        raise NotFound("No such invoice.")
    invoice = await service.complete_seller(session, invoice)
    await record(
        session,
        AuditAction.INVOICE_DOWNLOADED,
        organization_id=auth.user.organization_id,
        actor_id=auth.user.id,
        target_type="invoice",
        target_id=invoice.id,
        ip=client_ip(request),
    )
    return Response(
        pdf.render(invoice),
        media_type="application/pdf",
        headers={
            "Content-Disposition": f'attachment; filename="factura-{invoice.number}.pdf"',
            "Cache-Control": "private, no-store",
        },
    )
