"""The PDF of an invoice coded by the tax authority: it prints the MCCQT and carries the coded XML.

An invoice of a coded series is signed and stored like any other, then sent to
the authority; its code comes back later. The copy the customer gets is this
one: the same page with "Mã của cơ quan thuế (MCCQT): ..." under the date, the
coded XML (``HDon/MCCQT``) attached, and the seller's PAdES signature made
again. The invoices package does not know where codes come from (the tax
package calls this with the code it received).
"""

from __future__ import annotations

from evservice._context import Context, resolve
from evservice.errors import DocumentError, EvServiceError, ValidationError
from evservice.invoices._documents import _payment_lines, payment_code
from evservice.invoices._model import Invoice

__all__ = ["render_coded_pdf"]


def render_coded_pdf(
    invoice: Invoice, coded_xml: bytes, code: str, *, ctx: Context | None = None
) -> bytes:
    """The seller-signed PDF of ``invoice`` printing ``code`` and embedding ``coded_xml``."""
    from evservice.invoices._pdf import render_invoice_pdf
    from evservice.signing import load_signer, sign_pdf

    ctx = resolve(ctx)
    if not code or not code.isalnum():
        raise ValidationError("code", "must be the authority's code, letters and digits")
    if not coded_xml:
        raise ValidationError("coded_xml", "must be the invoice's coded XML")
    signer = load_signer(ctx.settings)
    qr = payment_code(invoice, ctx)
    try:
        rendered = render_invoice_pdf(
            invoice,
            qr_payload=None if qr is None else qr.payload(),
            qr_lines=() if qr is None else _payment_lines(qr, invoice, ctx),
            lookup_url=ctx.settings.lookup_url,
            tax_authority_code=code,
        )
        return sign_pdf(
            rendered.pdf,
            signer,
            signing_time=ctx.clock.now(),
            box=rendered.signature_box,
            embedded_xml=coded_xml,
            xml_filename=f"{invoice.label}.xml",
            reason=f"Hóa đơn {invoice.label} (MCCQT {code})",
        )
    except EvServiceError:
        raise
    except Exception as exc:
        raise DocumentError(f"cannot render the coded PDF of invoice {invoice.label}") from exc
