"""Invoices of patient payments: numbered per practice and year without gaps (Real Decreto
1619/2012: correlative numbering), with the seller's and buyer's data as they were."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from kura.db.base import Base, Timestamps, UUIDPrimaryKey, utcnow

RECTIFYING = "R"
# Healthcare services are VAT-exempt in Spain (Ley 37/1992, art. 20.Uno.3º); editable.
DEFAULT_VAT_NOTE = (
    "Operación exenta de IVA en virtud del artículo 20.Uno.3º de la Ley 37/1992 del Impuesto "
    "sobre el Valor Añadido."
)


class InvoiceProfile(Timestamps, Base):
    """The practice's details as an invoice must show them (set by the owner)."""

    __tablename__ = "invoice_profile"

    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organization.id", ondelete="CASCADE"), primary_key=True
    )
    legal_name: Mapped[str | None] = mapped_column(String(200))
    tax_id: Mapped[str | None] = mapped_column(String(32))
    address: Mapped[str | None] = mapped_column(Text)
    vat_note: Mapped[str] = mapped_column(Text, default=DEFAULT_VAT_NOTE)


class InvoiceCounter(Base):
    """The last number given per practice and year: bumped in the transaction that issues."""

    __tablename__ = "invoice_counter"

    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organization.id", ondelete="CASCADE"), primary_key=True
    )
    series: Mapped[str] = mapped_column(String(8), primary_key=True, server_default="")
    year: Mapped[int] = mapped_column(primary_key=True)
    last: Mapped[int]


class Invoice(UUIDPrimaryKey, Base):
    __tablename__ = "invoice"
    __table_args__ = (
        UniqueConstraint("organization_id", "series", "year", "sequence"),
        UniqueConstraint("rectifies_id", "refunded_total_cents"),
    )

    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organization.id", ondelete="CASCADE"), index=True
    )
    payment_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("payment.id", ondelete="SET NULL"), unique=True
    )
    # '' for invoices; RECTIFYING for the corrections of refunds, numbered apart (RD 1619/2012
    # art. 15: rectifying invoices go in a series of their own).
    series: Mapped[str] = mapped_column(String(8), default="", server_default="")
    rectifies_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("invoice.id", ondelete="CASCADE")
    )
    refunded_total_cents: Mapped[int | None]
    year: Mapped[int]
    sequence: Mapped[int]
    number: Mapped[str] = mapped_column(String(32))  # "2026-000001"
    issued_at: Mapped[datetime] = mapped_column(default=utcnow)
    # As they were at issue; the seller's are completed from the profile at the first
    # download if the owner had not filled them in yet.
    seller_name: Mapped[str | None] = mapped_column(String(200))
    seller_tax_id: Mapped[str | None] = mapped_column(String(32))
    seller_address: Mapped[str | None] = mapped_column(Text)
    vat_note: Mapped[str] = mapped_column(Text)
    customer_name: Mapped[str] = mapped_column(String(200))
    customer_email: Mapped[str | None] = mapped_column(String(320))
    description: Mapped[str] = mapped_column(String(300))
    amount_cents: Mapped[int]
    currency: Mapped[str] = mapped_column(String(3))
