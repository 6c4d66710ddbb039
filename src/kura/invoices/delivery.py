"""Sending an invoice to the patient it was issued to, in the patient's language."""

from __future__ import annotations

import uuid

from sqlalchemy import select

from kura.bookings.models import Booking
from kura.config import Settings
from kura.db.engine import Database
from kura.errors import Conflict
from kura.i18n import language, text
from kura.invoices import pdf
from kura.invoices.models import RECTIFYING, Invoice
from kura.invoices.service import complete_seller
from kura.logging import get_logger
from kura.notify.email import Attachment, Email, email_sender
from kura.orgs.models import Organization
from kura.patients.models import Patient
from kura.payments.models import Payment

log = get_logger(__name__)


async def send_invoice(database: Database, settings: Settings, invoice_id: uuid.UUID) -> str:
    """What happened, for the job's log: sent, or why not (never the patient's data)."""
    async with database.sessionmaker() as session, session.begin():
        invoice = await session.get(Invoice, invoice_id)
        if invoice is None or not invoice.customer_email:
            return "skipped: no invoice or no email address"
        address = invoice.customer_email
        try:
            invoice = await complete_seller(session, invoice)
        except Conflict:
            # The owner has not given the legal name and tax id yet: an invoice without them
            # cannot be handed out. It is downloadable once they are filled in.
            log.info("invoice.email_skipped", invoice_id=str(invoice.id), reason="seller details")
            return "skipped: seller details missing"
        organization = await session.get_one(Organization, invoice.organization_id)
        original = invoice
        if invoice.rectifies_id is not None:
            original = await session.get_one(Invoice, invoice.rectifies_id)
        patient = await session.scalar(
            select(Patient)
            .join(Booking, Booking.patient_id == Patient.id)
            .join(Payment, Payment.booking_id == Booking.id)
            .where(Payment.id == original.payment_id)
        )
        lang = language(patient.language if patient else organization.locale)
        kind = "rectifying" if invoice.series == RECTIFYING else "invoice"
        number, practice = invoice.number, organization.name
        email = Email(
            to=address,
            subject=text(lang, f"invoices.{kind}_subject", number=number, practice=practice),
            text=text(
                lang,
                f"invoices.{kind}_body",
                name=invoice.customer_name,
                number=number,
                practice=practice,
            ),
            attachments=(
                Attachment(f"factura-{invoice.number}.pdf", "application/pdf", pdf.render(invoice)),
            ),
        )
    await email_sender(settings).send(email)
    return "sent"
