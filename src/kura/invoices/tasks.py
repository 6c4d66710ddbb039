"""Invoice jobs: each issued invoice (and rectifying invoice) emailed to the patient as a PDF."""

from __future__ import annotations

import uuid

import procrastinate
from sqlalchemy.ext.asyncio import AsyncSession

from kura.jobs.defer import defer_in_transaction

blueprint = procrastinate.Blueprint()


@blueprint.task(
    name="email_invoice",
    pass_context=True,
    queue="email",
    retry=procrastinate.RetryStrategy(max_attempts=6, exponential_wait=5),
)
async def email_invoice(context: procrastinate.JobContext, invoice_id: str) -> None:
    """Email the patient their invoice as a PDF (skipped while the seller's details are missing)."""
    from kura.invoices.delivery import send_invoice

    extra = context.additional_context
    await send_invoice(extra["database"], extra["settings"], uuid.UUID(invoice_id))


async def queue_invoice_email(session: AsyncSession, invoice_id: uuid.UUID) -> None:
    await defer_in_transaction(session, email_invoice, invoice_id=str(invoice_id))
