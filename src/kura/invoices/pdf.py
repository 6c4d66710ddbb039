"""An invoice as a one-page PDF (fpdf2's core fonts: Latin-1, which Spanish fits in; see
kura.pdf_text for the rest)."""

from __future__ import annotations

from fpdf import FPDF

from kura.invoices.models import RECTIFYING, Invoice
from kura.pdf_text import latin1


def render(invoice: Invoice) -> bytes:
    kind = "Factura rectificativa" if invoice.series == RECTIFYING else "Factura"
    pdf = FPDF(format="A4")
    pdf.set_title(latin1(f"{kind} {invoice.number}"))
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 16)
    pdf.cell(0, 10, latin1(f"{kind} {invoice.number}"), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", size=10)

    def line(text: object) -> None:
        pdf.multi_cell(0, 5, latin1(text), new_x="LMARGIN", new_y="NEXT")

    line(f"Fecha de expedición: {invoice.issued_at:%d/%m/%Y}")
    pdf.ln(4)
    pdf.set_font("Helvetica", "B", 11)
    line("Emisor")
    pdf.set_font("Helvetica", size=10)
    line(invoice.seller_name or "")
    line(f"NIF: {invoice.seller_tax_id or ''}")
    if invoice.seller_address:
        line(invoice.seller_address)
    pdf.ln(4)
    pdf.set_font("Helvetica", "B", 11)
    line("Destinatario")
    pdf.set_font("Helvetica", size=10)
    line(invoice.customer_name)
    if invoice.customer_email:
        line(invoice.customer_email)
    pdf.ln(6)
    amount = f"{invoice.amount_cents / 100:.2f} {invoice.currency.upper()}"
    pdf.set_font("Helvetica", "B", 10)
    pdf.cell(140, 7, "Concepto", border=1)
    pdf.cell(0, 7, "Importe", border=1, new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", size=10)
    pdf.cell(140, 7, latin1(invoice.description)[:90], border=1)
    pdf.cell(0, 7, amount, border=1, new_x="LMARGIN", new_y="NEXT")
    pdf.ln(3)
    line(f"Base imponible: {amount}. Total: {amount}.")
    pdf.ln(3)
    pdf.set_font("Helvetica", "I", 9)
    line(invoice.vat_note)
    return bytes(pdf.output())
