"""The invoice PDF: the human-readable copy ("bản thể hiện") of the signed XML; its layout.

This module lays the page out (measures, paginates, draws each page and its
metadata); the parts it places (table, headers, totals, boxes, footer) are in
:mod:`._pdfparts`, the page geometry and the pen that draws them in
:mod:`._pdfpen`.

Drawn on an A4 page directly (no platypus: the monthly batch renders
millions), with the shipped DejaVu fonts registered once per process. The
layout is computed first (row heights, pages) and drawn second, so a long
invoice flows onto more pages with the table header repeated, the totals on
the last page only and "Trang x/y" on every page.

The last page keeps two boxes free: one for the payment QR code and one for
the seller's visible signature stamp. Their positions come back in
:class:`RenderedPdf` so the QR drawer and pyHanko's signature field land
exactly there. The output is deterministic (dates from ``issued_at``, the
file ``/ID`` from its content), page streams are compressed, fonts are
embedded as subsets. Embedding the signed XML (PDF/A-3) is the signing step's
job.

Speed: the layout draws on :class:`evservice.pdf.PdfCanvas`, our own
writer, not on reportlab's canvas, whose per-string text machinery (subset
mapping, escaping, object formatting at save) was most of a bill's rendering
time. Widths still come from reportlab's ``stringWidth``, and the numbers are
written as reportlab writes them, so every position is the one reportlab's
canvas draws (the layout functions take either canvas; the tests compare the
two). Each font is embedded as one fixed subset holding ASCII, every
Vietnamese letter and the layout's punctuation, made once per process and
copied into every invoice; characters beyond it (a buyer named "Øster") go to
small subsets of their own (:mod:`evservice.pdf._font`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from reportlab.lib.pagesizes import A4

from evservice.clock import VN_TZ
from evservice.errors import DocumentError, EvServiceError
from evservice.invoices._model import Invoice
from evservice.invoices._pdfparts import (
    HEADER_HEIGHT,
    _draw_row,
    _first_header,
    _footer,
    _next_header,
    _Row,
    _rows,
    _signature_row,
    _table_bottom,
    _table_header,
    _totals,
)
from evservice.invoices._pdfpen import (
    _BLUE,
    BOTTOM,
    MARGIN,
    PAGE_HEIGHT,
    PAGE_WIDTH,
    TOP,
    PageBox,
    _Canvas,
    _nfc,
    _Pen,
)
from evservice.pdf import FontNames, PdfCanvas, register_fonts

__all__ = ["PageBox", "RenderedPdf", "draw_invoice", "render_invoice_pdf"]


@dataclass(frozen=True)
class RenderedPdf:
    """The PDF bytes and where the QR code and the visible signature go (last page)."""

    pdf: bytes
    page_count: int
    qr_box: PageBox
    signature_box: PageBox


# ---------------------------------------------------------------------------
# pagination and drawing
# ---------------------------------------------------------------------------


@dataclass
class _Page:
    rows: list[_Row] = field(default_factory=list)


def _measure(fonts: FontNames, block: Callable[[_Pen], None]) -> float:
    pen = _Pen(None, fonts, TOP)
    block(pen)
    return TOP - pen.y


def _paginate(rows: list[_Row], first: float, later: float, closing: float) -> list[_Page]:
    """Fill pages greedily; the closing block (totals, boxes) must fit on the last page."""
    pages = [_Page()]
    space = first
    for row in rows:
        if row.height > space and pages[-1].rows:
            pages.append(_Page())
            space = later
        pages[-1].rows.append(row)
        space -= row.height
    if space < closing:
        # Carry the last row over so the last page continues the table above its totals.
        moved = pages[-1].rows.pop() if len(pages[-1].rows) > 1 else None
        pages.append(_Page([moved] if moved is not None else []))
    return pages


def render_invoice_pdf(
    invoice: Invoice,
    *,
    qr_payload: str | None = None,
    qr_lines: Sequence[str] = (),
    lookup_url: str | None = None,
    tax_authority_code: str | None = None,
) -> RenderedPdf:
    """Draw the invoice as an A4 PDF; the QR code too when ``qr_payload`` is given.

    ``qr_lines`` are printed under the code (the bank, account, holder and
    amount it pays, from :func:`evservice.payments.payment_lines`).
    ``lookup_url`` is printed next to the lookup code (where customers look the
    invoice up). ``tax_authority_code`` (the MCCQT of an invoice of a coded
    series) is printed under the date. The result says where the QR box and the
    signature box are.
    """
    canvas = PdfCanvas(A4, lang="vi-VN", created=invoice.issued_at.astimezone(VN_TZ))
    label = invoice.label
    try:
        pages, qr_box, signature_box = draw_invoice(
            canvas,
            invoice,
            qr_payload=qr_payload,
            qr_lines=qr_lines,
            lookup_url=lookup_url,
            tax_authority_code=tax_authority_code,
        )
        pdf = canvas.save()
    except EvServiceError:
        raise
    except Exception as exc:  # a bug in the layout or the writer: name the invoice
        raise DocumentError(f"cannot render the PDF of invoice {label}") from exc
    return RenderedPdf(pdf, pages, qr_box, signature_box)


def draw_invoice(
    canvas: _Canvas,
    invoice: Invoice,
    *,
    qr_payload: str | None = None,
    qr_lines: Sequence[str] = (),
    lookup_url: str | None = None,
    tax_authority_code: str | None = None,
) -> tuple[int, PageBox, PageBox]:
    """Lay the invoice out and draw its pages and metadata on ``canvas`` (any :class:`_Canvas`).

    Returns the page count, the QR box and the signature box. The canvas is
    left to be saved (pages shown, nothing pending).
    """
    fonts = register_fonts()
    draft = invoice.draft
    rows = _rows(invoice, fonts)
    first = _measure(fonts, lambda pen: _first_header(pen, invoice, tax_authority_code))
    later = _measure(fonts, lambda pen: _next_header(pen, invoice))

    def closing_block(pen: _Pen) -> None:
        _totals(pen, invoice)
        _signature_row(pen, 0, qr_lines if qr_payload else (), with_qr=qr_payload is not None)

    closing = _measure(fonts, closing_block)
    table_top_first = TOP - first - HEADER_HEIGHT
    table_top_later = TOP - later - HEADER_HEIGHT
    pages = _paginate(rows, table_top_first - BOTTOM, table_top_later - BOTTOM, closing)

    label = invoice.label
    canvas.setTitle(f"{_nfc(draft.title)} {label}")
    canvas.setAuthor(_nfc(draft.seller.name))
    canvas.setSubject(
        f"Hóa đơn điện tử {label} ngày {draft.issue_date:%d/%m/%Y}, "
        f"người bán MST {draft.seller.tax_code}"
    )
    canvas.setCreator("evservice")
    canvas.setKeywords(f"hoa don dien tu, {label}")

    pen = _Pen(canvas, fonts, TOP)
    boxes: tuple[PageBox, PageBox] | None = None
    last = len(pages) - 1
    for index, page in enumerate(pages):
        _frame(canvas)
        pen.y = TOP
        if index == 0:
            _first_header(pen, invoice, tax_authority_code)
        else:
            _next_header(pen, invoice)
        _table_header(pen)
        for row in page.rows:
            _draw_row(pen, row)
        _table_bottom(pen)
        if index == last:
            _totals(pen, invoice)
            boxes = _signature_row(
                pen, index, qr_lines if qr_payload else (), with_qr=qr_payload is not None
            )
            if qr_payload is not None:
                _draw_qr(canvas, qr_payload, boxes[0])
        _footer(pen, invoice, lookup_url, index + 1, len(pages))
        canvas.showPage()
    if boxes is None:  # the last page always draws them; this guards the type
        raise DocumentError(f"cannot place the QR and signature boxes of invoice {label}")
    return len(pages), boxes[0], boxes[1]


def _frame(canvas: _Canvas) -> None:
    """A thin double frame around the page, as printed invoices have."""
    canvas.setStrokeColorRGB(*_BLUE)
    canvas.setLineWidth(1.2)
    inset = MARGIN - 16
    canvas.rect(inset, inset, PAGE_WIDTH - 2 * inset, PAGE_HEIGHT - 2 * inset)
    canvas.setLineWidth(0.4)
    inset += 3
    canvas.rect(inset, inset, PAGE_WIDTH - 2 * inset, PAGE_HEIGHT - 2 * inset)


def _draw_qr(canvas: _Canvas, payload: str, box: PageBox) -> None:
    from evservice.payments import qr_operators

    canvas.addLiteral(qr_operators(payload, box.x, box.y, box.width))
