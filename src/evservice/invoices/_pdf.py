"""The invoice PDF: the human-readable copy ("bản thể hiện") of the signed XML.

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

import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Protocol

from reportlab.lib.pagesizes import A4

from evservice.clock import VN_TZ
from evservice.errors import DocumentError, EvServiceError
from evservice.invoices._identifiers import format_number
from evservice.invoices._model import CorrectionKind, Invoice, InvoiceLine, LineKind, Totals
from evservice.money import format_vnd, round_dong, vat_percent
from evservice.pdf import FontNames, PdfCanvas, register_fonts, string_width
from evservice.vn import amount_in_words

__all__ = ["PageBox", "RenderedPdf", "draw_invoice", "render_invoice_pdf"]

PAGE_WIDTH: float = A4[0]
PAGE_HEIGHT: float = A4[1]
MM = 72 / 25.4  # points per millimetre
MARGIN = 14 * MM
LEFT = MARGIN
RIGHT = PAGE_WIDTH - MARGIN
WIDTH = RIGHT - LEFT
TOP = PAGE_HEIGHT - MARGIN
FOOTER_HEIGHT = 30.0
BOTTOM = MARGIN + FOOTER_HEIGHT
QR_SIZE = 32 * MM
SIGNATURE_WIDTH = 62 * MM
SIGNATURE_HEIGHT = 22 * MM

SIZE = 8.5  # body text
SMALL = 7.5
LEADING = 11.5
TITLE_SIZE = 16.0
CELL_PAD = 3.0

_BLUE = (0.08, 0.20, 0.50)
_RED = (0.75, 0.08, 0.08)
_GREY = (0.45, 0.45, 0.45)
_RULE = (0.70, 0.70, 0.70)
_BLACK = (0.0, 0.0, 0.0)

_ENGLISH_TITLE = {"1": "(VAT INVOICE)", "2": "(SALES INVOICE)"}
_RATE_NAMES = {"KCT": "Không chịu thuế GTGT", "KKKNT": "Không kê khai, tính nộp thuế GTGT"}


@dataclass(frozen=True)
class PageBox:
    """A rectangle on one page: ``page`` is 0-based, coordinates in PDF points from bottom left."""

    page: int
    x: float
    y: float
    width: float
    height: float

    @property
    def rect(self) -> tuple[float, float, float, float]:
        """``(x1, y1, x2, y2)``, the form pyHanko's ``SigFieldSpec(box=...)`` takes."""
        return (self.x, self.y, self.x + self.width, self.y + self.height)


@dataclass(frozen=True)
class RenderedPdf:
    """The PDF bytes and where the QR code and the visible signature go (last page)."""

    pdf: bytes
    page_count: int
    qr_box: PageBox
    signature_box: PageBox


class _Canvas(Protocol):
    """The canvas methods the layout calls: :class:`PdfCanvas`, or reportlab's ``Canvas``."""

    def setFont(self, name: str, size: float) -> None: ...  # noqa: N802
    def setFillColorRGB(self, r: float, g: float, b: float) -> None: ...  # noqa: N802
    def setStrokeColorRGB(self, r: float, g: float, b: float) -> None: ...  # noqa: N802
    def setLineWidth(self, width: float) -> None: ...  # noqa: N802
    def setDash(self, array: float | Sequence[float] = ..., phase: float = ...) -> None: ...  # noqa: N802
    def line(self, x1: float, y1: float, x2: float, y2: float) -> None: ...
    def rect(
        self, x: float, y: float, width: float, height: float, stroke: int = ..., fill: int = ...
    ) -> None: ...
    def drawString(self, x: float, y: float, text: str) -> None: ...  # noqa: N802
    def drawRightString(self, x: float, y: float, text: str) -> None: ...  # noqa: N802
    def drawCentredString(self, x: float, y: float, text: str) -> None: ...  # noqa: N802
    def addLiteral(self, operators: str) -> None: ...  # noqa: N802
    def showPage(self) -> None: ...  # noqa: N802
    def setTitle(self, title: str) -> None: ...  # noqa: N802
    def setAuthor(self, author: str) -> None: ...  # noqa: N802
    def setSubject(self, subject: str) -> None: ...  # noqa: N802
    def setCreator(self, creator: str) -> None: ...  # noqa: N802
    def setKeywords(self, keywords: str) -> None: ...  # noqa: N802


# ---------------------------------------------------------------------------
# text helpers
# ---------------------------------------------------------------------------


def _nfc(text: str) -> str:
    # Decomposed input (NFD, "Unicode tổ hợp") would draw its accents as separate glyphs.
    return unicodedata.normalize("NFC", text)


def _wrap(text: str, font: str, size: float, width: float) -> list[str]:
    """Greedy word wrap by measured width; words longer than a line are cut."""
    lines: list[str] = []
    for paragraph in _nfc(text).splitlines() or [""]:
        current = ""
        for word in paragraph.split():
            candidate = f"{current} {word}" if current else word
            if string_width(candidate, font, size) <= width:
                current = candidate
                continue
            if current:
                lines.append(current)
            while string_width(word, font, size) > width and len(word) > 1:
                cut = len(word) - 1
                while cut > 1 and string_width(word[:cut], font, size) > width:
                    cut -= 1
                lines.append(word[:cut])
                word = word[cut:]
            current = word
        lines.append(current)
    return lines


def _number(value: Decimal) -> str:
    """Vietnamese style: ``.`` groups thousands, ``,`` marks decimals (``1.234,5``)."""
    sign = "-" if value < 0 else ""
    text = format(abs(value).normalize(), "f")
    whole, _, fraction = text.partition(".")
    grouped = f"{int(whole):,}".replace(",", ".")
    fraction = fraction.rstrip("0")
    return f"{sign}{grouped},{fraction}" if fraction else f"{sign}{grouped}"


def _money(value: Decimal) -> str:
    return format_vnd(value)


def _lookup_code(code: str) -> str:
    """Printed in groups of four (``ABCD-2345-EFGH``), as customers type it."""
    compact = "".join(code.replace("-", " ").split()).upper()
    return "-".join(compact[i : i + 4] for i in range(0, len(compact), 4))


def _rate_label(rate: str) -> str:
    if rate in _RATE_NAMES:
        return rate
    percent = vat_percent(rate)
    return f"{_number(percent)}%" if percent is not None else rate


def _long_date(day: date) -> str:
    return f"Ngày {day.day:02d} tháng {day.month:02d} năm {day.year}"


# ---------------------------------------------------------------------------
# a pen that measures or draws
# ---------------------------------------------------------------------------


@dataclass
class _Pen:
    """Draws at a moving ``y`` when it has a canvas; only measures when it has none."""

    canvas: _Canvas | None
    fonts: FontNames
    y: float = TOP

    def text(
        self,
        x: float,
        text: str,
        *,
        font: str | None = None,
        size: float = SIZE,
        color: tuple[float, float, float] = _BLACK,
        align: str = "left",
    ) -> None:
        """One line of text at the current ``y`` (baseline), without moving."""
        if self.canvas is None:
            return
        self.canvas.setFont(font or self.fonts.regular, size)
        self.canvas.setFillColorRGB(*color)
        if align == "center":
            self.canvas.drawCentredString(x, self.y, _nfc(text))
        elif align == "right":
            self.canvas.drawRightString(x, self.y, _nfc(text))
        else:
            self.canvas.drawString(x, self.y, _nfc(text))

    def rule(self, x1: float = LEFT, x2: float = RIGHT, *, dash: bool = False) -> None:
        if self.canvas is None:
            return
        self.canvas.setStrokeColorRGB(*_RULE)
        self.canvas.setLineWidth(0.6)
        if dash:
            self.canvas.setDash(2, 2)
        self.canvas.line(x1, self.y, x2, self.y)
        if dash:
            self.canvas.setDash()

    def pair(
        self,
        label: str,
        value: str,
        *,
        x: float = LEFT,
        width: float = WIDTH,
        bold: bool = False,
        color: tuple[float, float, float] = _BLACK,
    ) -> None:
        """``label: value`` with the value wrapped under itself; moves down."""
        label = f"{label}: "
        indent = string_width(label, self.fonts.regular, SIZE)
        font = self.fonts.bold if bold else self.fonts.regular
        lines = _wrap(value, font, SIZE, width - indent)
        self.y -= LEADING
        self.text(x, label, color=_GREY)
        for index, line in enumerate(lines):
            if index:
                self.y -= LEADING
            self.text(x + indent, line, font=font, color=color)

    def pairs(self, items: Sequence[tuple[str, str]], *, columns: Sequence[float]) -> None:
        """Several short ``label: value`` pairs on one line, at the given x positions."""
        self.y -= LEADING
        for (label, value), x in zip(items, columns, strict=True):
            label = f"{label}: "
            self.text(x, label, color=_GREY)
            indent = string_width(label, self.fonts.regular, SIZE)
            self.text(x + indent, value)

    def centered(
        self,
        text: str,
        *,
        font: str | None = None,
        size: float = SIZE,
        color: tuple[float, float, float] = _BLACK,
        width: float = WIDTH,
        leading: float = LEADING,
    ) -> None:
        for line in _wrap(text, font or self.fonts.regular, size, width):
            self.y -= leading
            self.text(PAGE_WIDTH / 2, line, font=font, size=size, color=color, align="center")


# ---------------------------------------------------------------------------
# the goods table
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _Column:
    title: str
    english: str
    number: str
    width: float
    align: str


_FIXED_COLUMNS = (22.0, 40.0, 50.0, 62.0, 76.0, 48.0)
_COLUMNS = (
    _Column("STT", "No.", "1", _FIXED_COLUMNS[0], "center"),
    _Column("Tên hàng hóa, dịch vụ", "Description", "2", WIDTH - sum(_FIXED_COLUMNS), "left"),
    _Column("ĐVT", "Unit", "3", _FIXED_COLUMNS[1], "center"),
    _Column("Số lượng", "Quantity", "4", _FIXED_COLUMNS[2], "right"),
    _Column("Đơn giá", "Unit price", "5", _FIXED_COLUMNS[3], "right"),
    _Column("Thành tiền", "Amount", "6 = 4 x 5", _FIXED_COLUMNS[4], "right"),
    _Column("Thuế suất", "VAT rate", "7", _FIXED_COLUMNS[5], "center"),
)
_EDGES = [LEFT]
for _column in _COLUMNS:
    _EDGES.append(_EDGES[-1] + _column.width)
HEADER_HEIGHT = 3 * LEADING + 2 * CELL_PAD


@dataclass(frozen=True)
class _Row:
    """One table row, already wrapped: ``cells`` per column, and its height."""

    cells: tuple[tuple[str, ...], ...]
    height: float
    italic: bool = False


def _line_row(position: int | None, line: InvoiceLine, fonts: FontNames) -> _Row:
    name_width = _COLUMNS[1].width - 2 * CELL_PAD
    if line.kind is LineKind.NOTE:
        name = _wrap(line.name, fonts.italic, SIZE, WIDTH - _COLUMNS[0].width - 2 * CELL_PAD)
        cells: tuple[tuple[str, ...], ...] = ((), tuple(name), (), (), (), (), ())
        return _Row(cells, len(name) * LEADING + 2 * CELL_PAD, italic=True)
    label = line.name
    if line.kind is LineKind.PROMOTION:
        label = f"{label} (hàng khuyến mại, không thu tiền)"
    elif line.kind is LineKind.DISCOUNT:
        label = f"{label} (chiết khấu thương mại)"
    name = _wrap(label, fonts.regular, SIZE, name_width)
    discount = Decimal(0)
    if line.discount_amount is not None or line.discount_rate is not None:
        gross = None
        if line.quantity is not None and line.unit_price is not None:
            gross = round_dong(line.quantity * line.unit_price)
        discount = line.line_discount(gross)
    if discount:
        rate = f" {_number(line.discount_rate)}%" if line.discount_rate is not None else ""
        name += _wrap(f"Chiết khấu{rate}: -{_money(discount)}", fonts.italic, SMALL, name_width)
    amount = line.line_amount()
    if line.kind is LineKind.DISCOUNT:
        amount_text = _money(-amount)  # subtracted from its rate group
    elif line.kind is LineKind.PROMOTION:
        amount_text = "0"
    else:
        amount_text = _money(amount)
    cells = (
        (str(position),) if position is not None else (),
        tuple(name),
        tuple(_wrap(line.unit, fonts.regular, SIZE, _COLUMNS[2].width - 2)) if line.unit else (),
        (_number(line.quantity),) if line.quantity is not None else (),
        (_number(line.unit_price),) if line.unit_price is not None else (),
        (amount_text,),
        (_rate_label(line.vat_rate),) if line.vat_rate else (),
    )
    height = max(len(c) for c in cells) * LEADING + 2 * CELL_PAD
    return _Row(cells, height)


def _rows(invoice: Invoice, fonts: FontNames) -> list[_Row]:
    rows: list[_Row] = []
    position = 0
    for line in invoice.draft.lines:
        if line.kind is LineKind.NOTE:
            rows.append(_line_row(None, line, fonts))
        else:
            position += 1
            rows.append(_line_row(position, line, fonts))
    return rows


def _table_header(pen: _Pen) -> None:
    top = pen.y
    canvas = pen.canvas
    if canvas is not None:
        canvas.setFillColorRGB(0.92, 0.94, 0.98)
        canvas.rect(LEFT, top - HEADER_HEIGHT, WIDTH, HEADER_HEIGHT, stroke=0, fill=1)
    for column, x1, x2 in zip(_COLUMNS, _EDGES, _EDGES[1:], strict=False):
        middle = (x1 + x2) / 2
        pen.y = top - CELL_PAD - LEADING + 2
        pen.text(middle, column.title, font=pen.fonts.bold, size=SMALL, align="center")
        pen.y -= LEADING - 2
        pen.text(
            middle,
            f"({column.english})",
            font=pen.fonts.italic,
            size=SMALL - 0.5,
            color=_GREY,
            align="center",
        )
        pen.y -= LEADING
        pen.text(middle, column.number, size=SMALL - 0.5, color=_GREY, align="center")
    pen.y = top - HEADER_HEIGHT
    pen.rule()
    if canvas is not None:
        numbers = pen.y + 2 * CELL_PAD + LEADING - 3
        canvas.setStrokeColorRGB(*_RULE)
        canvas.line(LEFT, top, RIGHT, top)
        canvas.line(LEFT, numbers, RIGHT, numbers)
    _verticals(pen, top, pen.y, _EDGES)


def _draw_row(pen: _Pen, row: _Row) -> None:
    top = pen.y
    for index, (column, lines) in enumerate(zip(_COLUMNS, row.cells, strict=True)):
        x1, x2 = _EDGES[index], _EDGES[index + 1]
        font = pen.fonts.italic if row.italic else pen.fonts.regular
        for number, text in enumerate(lines):
            pen.y = top - CELL_PAD - (number + 1) * LEADING + 3
            size = SIZE
            if index == 1 and number > 0 and text.startswith("Chiết khấu"):
                font, size = pen.fonts.italic, SMALL
            if column.align == "right":
                pen.text(x2 - CELL_PAD, text, font=font, size=size, align="right")
            elif column.align == "center":
                pen.text((x1 + x2) / 2, text, font=font, size=size, align="center")
            else:
                pen.text(x1 + CELL_PAD, text, font=font, size=size)
    pen.y = top - row.height
    pen.rule(dash=True)
    # A note spans the columns after STT: no inner column lines through its text.
    _verticals(pen, top, pen.y, (_EDGES[0], _EDGES[1], _EDGES[-1]) if row.italic else _EDGES)


def _verticals(pen: _Pen, top: float, bottom: float, edges: Sequence[float]) -> None:
    canvas = pen.canvas
    if canvas is None:
        return
    canvas.setStrokeColorRGB(*_RULE)
    canvas.setLineWidth(0.6)
    for x in edges:
        canvas.line(x, top, x, bottom)


def _table_bottom(pen: _Pen) -> None:
    pen.rule()


# ---------------------------------------------------------------------------
# page blocks
# ---------------------------------------------------------------------------


def _first_header(pen: _Pen, invoice: Invoice) -> None:
    draft = invoice.draft
    fonts = pen.fonts
    top = pen.y
    # Right column: series and number, as every Vietnamese invoice prints them.
    right_x = RIGHT - 150
    pen.y = top - 30
    pen.text(right_x, "Ký hiệu (Serial): ", color=_GREY)
    pen.text(right_x + 75, f"{draft.template}{draft.series}", font=fonts.bold)
    pen.y -= LEADING + 2
    pen.text(right_x, "Số (No.): ", color=_GREY)
    pen.text(right_x + 75, format_number(invoice.number), font=fonts.bold, size=11, color=_RED)

    pen.y = top - 4
    pen.centered(
        draft.title.upper(),
        font=fonts.bold,
        size=TITLE_SIZE,
        color=_BLUE,
        width=WIDTH - 40,
        leading=TITLE_SIZE + 2,
    )
    english = _ENGLISH_TITLE.get(draft.template)
    if english:
        pen.centered(english, font=fonts.bold, size=SIZE, color=_BLUE)
    pen.centered("(Bản thể hiện của hóa đơn điện tử)", font=fonts.italic)
    pen.centered(_long_date(draft.issue_date), font=fonts.italic)
    if draft.related is not None:
        related = draft.related
        kind = "thay thế" if related.kind is CorrectionKind.REPLACEMENT else "điều chỉnh"
        pen.centered(
            f"(Hóa đơn {kind} cho hóa đơn Mẫu số {related.template} Ký hiệu {related.series} "
            f"Số {format_number(related.number)} ngày {related.issue_date:%d/%m/%Y})",
            font=fonts.italic,
            color=_RED,
        )
        if related.note:
            pen.centered(related.note, font=fonts.italic, size=SMALL)
    pen.y = min(pen.y, top - 30 - 2 * LEADING) - 6
    pen.rule()

    seller = draft.seller
    pen.pair("Đơn vị bán hàng (Seller)", seller.name, bold=True, color=_BLUE)
    pen.pair("Mã số thuế (Tax code)", seller.tax_code or "", bold=True)
    pen.pair("Địa chỉ (Address)", seller.address)
    contact = [
        (label, value)
        for label, value in (
            ("Điện thoại (Tel)", seller.phone),
            ("Fax", seller.fax),
            ("Email", seller.email),
            ("Website", seller.website),
        )
        if value
    ]
    for start in range(0, len(contact), 2):
        chunk = contact[start : start + 2]
        pen.pairs([(k, v or "") for k, v in chunk], columns=[LEFT, LEFT + WIDTH / 2][: len(chunk)])
    if seller.bank_account:
        bank = f"{seller.bank_account}" + (f" tại {seller.bank_name}" if seller.bank_name else "")
        pen.pair("Số tài khoản (Account No.)", bank)
    pen.y -= 5
    pen.rule()

    buyer = draft.buyer
    pen.pair("Họ tên người mua hàng (Buyer)", buyer.person_name or "")
    pen.pair("Tên đơn vị (Company)", buyer.name or "", bold=True)
    pen.pair("Mã số thuế (Tax code)", buyer.tax_code or "", bold=True)
    pen.pair("Địa chỉ (Address)", buyer.address or "")
    if buyer.customer_code:
        pen.pair("Mã khách hàng (Customer code)", buyer.customer_code)
    payment = [("Hình thức thanh toán (Payment method)", draft.payment_method)]
    if buyer.bank_account:
        payment.append(("Số tài khoản (Account No.)", buyer.bank_account))
    pen.pairs(payment, columns=[LEFT, LEFT + WIDTH * 0.55][: len(payment)])
    if draft.currency != "VND":
        pen.pairs(
            [
                ("Đồng tiền thanh toán (Currency)", draft.currency),
                ("Tỷ giá (Exchange rate)", _number(draft.exchange_rate)),
            ],
            columns=[LEFT, LEFT + WIDTH * 0.55],
        )
    pen.y -= 8


def _next_header(pen: _Pen, invoice: Invoice) -> None:
    draft = invoice.draft
    top = pen.y
    pen.y = top - 14
    pen.text(LEFT, f"{draft.title.upper()} (tiếp theo)", font=pen.fonts.bold, size=11, color=_BLUE)
    pen.text(
        RIGHT,
        f"Ký hiệu: {draft.template}{draft.series}   Số: {format_number(invoice.number)}   "
        f"Ngày {draft.issue_date:%d/%m/%Y}",
        align="right",
    )
    pen.y -= 12


def _rate_table(pen: _Pen, totals: Totals) -> None:
    """Totals per VAT rate (``THTTLTSuat``): amount before tax, VAT and their sum."""
    fonts = pen.fonts
    edges = (LEFT, LEFT + WIDTH * 0.34, LEFT + WIDTH * 0.56, LEFT + WIDTH * 0.78, RIGHT)
    titles = ("Tổng hợp theo thuế suất", "Thành tiền chưa thuế", "Tiền thuế GTGT", "Cộng")
    top = pen.y - 6
    row_height = LEADING + 3
    canvas = pen.canvas
    if canvas is not None:
        canvas.setFillColorRGB(0.92, 0.94, 0.98)
        canvas.rect(LEFT, top - row_height, WIDTH, row_height, stroke=0, fill=1)
    pen.y = top - row_height + 4
    for index, title in enumerate(titles):
        if index == 0:
            pen.text(edges[0] + CELL_PAD, title, font=fonts.bold, size=SMALL)
        else:
            pen.text(edges[index + 1] - CELL_PAD, title, font=fonts.bold, size=SMALL, align="right")
    for group in totals.by_rate:
        pen.y -= row_height
        name = _RATE_NAMES.get(group.rate) or f"Thuế suất {_rate_label(group.rate)}"
        pen.text(edges[0] + CELL_PAD, name)
        tax = group.tax if group.tax is not None else Decimal(0)
        values = (
            _money(group.amount),
            _money(group.tax) if group.tax is not None else "\u2014",
            _money(group.amount + tax),
        )
        for index, value in enumerate(values, start=2):
            pen.text(edges[index] - CELL_PAD, value, align="right")
    bottom = top - row_height * (len(totals.by_rate) + 1)
    if canvas is not None:
        canvas.setStrokeColorRGB(*_RULE)
        canvas.setLineWidth(0.6)
        canvas.rect(LEFT, bottom, WIDTH, top - bottom, stroke=1, fill=0)
        canvas.line(LEFT, top - row_height, RIGHT, top - row_height)
        for x in edges[1:-1]:
            canvas.line(x, top, x, bottom)
    pen.y = bottom


def _totals(pen: _Pen, invoice: Invoice) -> None:
    fonts = pen.fonts
    totals = invoice.totals
    _rate_table(pen, totals)
    value_x = RIGHT - CELL_PAD
    label_x = value_x - 95
    rows: list[tuple[str, str, bool]] = []
    if totals.trade_discount:
        rows.append(
            ("Chiết khấu thương mại (Trade discount):", _money(totals.trade_discount), False)
        )
    rows += [
        ("Cộng tiền hàng (Total amount before VAT):", _money(totals.before_tax), False),
        ("Tiền thuế GTGT (VAT amount):", _money(totals.tax), False),
        ("Tổng cộng tiền thanh toán (Total payment):", _money(totals.payable), True),
    ]
    for label, value, strong in rows:
        pen.y -= LEADING + 1
        pen.text(label_x, label, font=fonts.bold if strong else fonts.regular, align="right")
        pen.text(
            value_x,
            value,
            font=fonts.bold,
            size=SIZE + (1 if strong else 0),
            color=_RED if strong else _BLACK,
            align="right",
        )
    pen.y -= 4
    label = "Số tiền viết bằng chữ (Amount in words): "
    indent = string_width(label, fonts.regular, SIZE)
    words = _wrap(amount_in_words(totals.payable) + ".", fonts.bold, SIZE, WIDTH - indent - 6)
    pen.y -= LEADING
    pen.text(LEFT + CELL_PAD, label, color=_GREY)
    for index, line in enumerate(words):
        if index:
            pen.y -= LEADING
        pen.text(LEFT + CELL_PAD + indent, line, font=fonts.bold)
    pen.y -= 6
    pen.rule()


def _signature_row(
    pen: _Pen, last_page: int, qr_lines: Sequence[str] = ()
) -> tuple[PageBox, PageBox]:
    """Captions, the QR box (left, with ``qr_lines`` under it) and the seller's signature box."""
    fonts = pen.fonts
    top = pen.y - 6
    qr = PageBox(last_page, LEFT + 6, top - LEADING - 4 - QR_SIZE, QR_SIZE, QR_SIZE)
    buyer_x = LEFT + WIDTH * 0.40
    seller_x = RIGHT - SIGNATURE_WIDTH / 2 - 4
    pen.y = top - LEADING
    pen.text(
        qr.x + QR_SIZE / 2, "Quét mã để thanh toán", font=fonts.italic, size=SMALL, align="center"
    )
    pen.text(buyer_x, "Người mua hàng (Buyer)", font=fonts.bold, align="center")
    pen.text(seller_x, "Người bán hàng (Seller)", font=fonts.bold, align="center")
    pen.y -= LEADING
    pen.text(
        buyer_x, "(Chữ ký số, chữ ký điện tử nếu có)", font=fonts.italic, size=SMALL, align="center"
    )
    pen.text(seller_x, "(Chữ ký số)", font=fonts.italic, size=SMALL, align="center")
    signature = PageBox(
        last_page,
        RIGHT - SIGNATURE_WIDTH - 4,
        pen.y - 6 - SIGNATURE_HEIGHT,
        SIGNATURE_WIDTH,
        SIGNATURE_HEIGHT,
    )
    pen.y = qr.y - 2
    for line in qr_lines:  # bank, account, holder, amount: what the code pays to
        pen.y -= SMALL * 1.25
        pen.text(qr.x, line, size=SMALL)
    pen.y = min(pen.y, signature.y) - 4
    return qr, signature


def _footer(pen: _Pen, invoice: Invoice, lookup_url: str | None, page: int, pages: int) -> None:
    fonts = pen.fonts
    code = _lookup_code(invoice.lookup_code)
    pen.y = MARGIN + FOOTER_HEIGHT - 8
    pen.rule()
    pen.y -= LEADING
    pen.text(LEFT, "Mã tra cứu (Lookup code): ", size=SMALL, color=_GREY)
    indent = string_width("Mã tra cứu (Lookup code): ", fonts.regular, SMALL)
    pen.text(LEFT + indent, code, font=fonts.bold, size=SMALL, color=_RED)
    if lookup_url:
        pen.y -= LEADING - 2
        pen.text(LEFT, f"Tra cứu hóa đơn tại (Look up at): {lookup_url}", size=SMALL, color=_GREY)
    pen.y = MARGIN + FOOTER_HEIGHT - 8 - LEADING
    pen.text(RIGHT, f"Trang {page}/{pages}", size=SMALL, color=_GREY, align="right")
    pen.y -= LEADING - 2
    pen.text(
        RIGHT,
        "(Cần kiểm tra, đối chiếu khi lập, giao, nhận hóa đơn)",
        font=fonts.italic,
        size=SMALL - 0.5,
        color=_GREY,
        align="right",
    )


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
) -> RenderedPdf:
    """Draw the invoice as an A4 PDF; the QR code too when ``qr_payload`` is given.

    ``qr_lines`` are printed under the code (the bank, account, holder and
    amount it pays, from :func:`evservice.payments.payment_lines`).
    ``lookup_url`` is printed next to the lookup code (where customers look the
    invoice up). The result says where the QR box and the signature box are.
    """
    canvas = PdfCanvas(A4, lang="vi-VN", created=invoice.issued_at.astimezone(VN_TZ))
    label = invoice.label
    try:
        pages, qr_box, signature_box = draw_invoice(
            canvas, invoice, qr_payload=qr_payload, qr_lines=qr_lines, lookup_url=lookup_url
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
) -> tuple[int, PageBox, PageBox]:
    """Lay the invoice out and draw its pages and metadata on ``canvas`` (any :class:`_Canvas`).

    Returns the page count, the QR box and the signature box. The canvas is
    left to be saved (pages shown, nothing pending).
    """
    fonts = register_fonts()
    draft = invoice.draft
    rows = _rows(invoice, fonts)
    first = _measure(fonts, lambda pen: _first_header(pen, invoice))
    later = _measure(fonts, lambda pen: _next_header(pen, invoice))

    def closing_block(pen: _Pen) -> None:
        _totals(pen, invoice)
        _signature_row(pen, 0, qr_lines if qr_payload else ())

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
            _first_header(pen, invoice)
        else:
            _next_header(pen, invoice)
        _table_header(pen)
        for row in page.rows:
            _draw_row(pen, row)
        _table_bottom(pen)
        if index == last:
            _totals(pen, invoice)
            boxes = _signature_row(pen, index, qr_lines if qr_payload else ())
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
    from evservice.payments._draw import qr_operators

    canvas.addLiteral(qr_operators(payload, box.x, box.y, box.width))
