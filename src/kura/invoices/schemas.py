"""Invoice bodies."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from kura.inputs import Input
from kura.pagination import Page

Line = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]


class InvoiceProfileRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    legal_name: str | None
    tax_id: str | None
    address: str | None
    vat_note: str


class InvoiceProfileUpdate(Input):
    legal_name: Line
    tax_id: Annotated[
        str,
        StringConstraints(
            strip_whitespace=True, to_upper=True, pattern=r"^[A-Za-z0-9-]{5,20}$", max_length=20
        ),
    ] = Field(description="NIF/CIF (Spain) or the practice's tax id elsewhere")
    address: Annotated[str, StringConstraints(strip_whitespace=True, max_length=500)] | None = None
    vat_note: (
        Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]
        | None
    ) = Field(None, description="Default: the healthcare VAT exemption (art. 20.Uno.3º)")


class InvoiceRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    number: str
    issued_at: datetime
    payment_id: uuid.UUID | None
    rectifies_id: uuid.UUID | None = Field(
        description="A rectifying invoice (R series, negative amount): the invoice it corrects"
    )
    customer_name: str
    description: str
    amount_cents: int
    currency: str


class InvoicePage(Page[InvoiceRead]):
    """Invoices, newest number first."""
