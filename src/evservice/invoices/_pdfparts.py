"""The parts of the invoice page: the goods table, the headers, the totals, the boxes, the footer.

Each part draws with a :class:`~._pdfpen._Pen` at its current ``y`` and moves
it down, so the layout (:mod:`._pdf`) can measure a part (a pen without a
canvas) before drawing it. The table rows are wrapped once (:func:`_rows`)
and paginated by the layout.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from evservice.invoices._identifiers import format_number
from evservice.invoices._model import CorrectionKind, Invoice, InvoiceLine, LineKind, Totals
from evservice.invoices._pdfpen import (
    _BLACK,
    _BLUE,
    _ENGLISH_TITLE,
    _GREY,
    _RATE_NAMES,
    _RED,
    _RULE,
    CELL_PAD,
    FOOTER_HEIGHT,
    LEADING,
    LEFT,
    MARGIN,
    QR_SIZE,
    RIGHT,
    SIGNATURE_HEIGHT,
    SIGNATURE_WIDTH,
    SIZE,
    SMALL,
    TITLE_SIZE,
    WIDTH,
    PageBox,
    _long_date,
    _lookup_code,
    _money,
    _number,
    _Pen,
    _rate_label,
    _wrap,
)
from evservice.money import round_dong
from evservice.pdf import FontNames, string_width
from evservice.vn import amount_in_words

__all__: list[str] = []


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


def _first_header(pen: _Pen, invoice: Invoice, tax_authority_code: str | None = None) -> None:
    """The first page's head: serial and number, title, date, the authority's code (MCCQT)
    of a coded invoice, correction note, seller, buyer.

    About 80 lines because it is the page's top to bottom in order, one pen
    moving down; split, the parts would only pass the pen and ``top`` around.
    """
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
    if tax_authority_code:
        pen.centered(f"Mã của cơ quan thuế (MCCQT): {tax_authority_code}", font=fonts.bold)
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
    _meter_block(pen, draft.extra)
    pen.y -= 8


#: The meter reading an electricity bill states (``TTKhac`` fields the batch writes), so a
#: customer can check the kWh from the page: (field, label). ``HeSoNhan`` (the register
#: multiplier of a meter behind current transformers) is printed when a draft gives it.
_METER_FIELDS = (
    ("ChiSoCu", "Chỉ số cũ (Previous)"),
    ("ChiSoMoi", "Chỉ số mới (Current)"),
    ("HeSoNhan", "Hệ số nhân (Multiplier)"),
    ("DienNangTieuThu", "Điện năng tiêu thụ (Used)"),
    ("SoHo", "Số hộ (Households)"),
)


def _meter_block(pen: _Pen, extra: dict[str, str]) -> None:
    """Meter id, reading period, old and new index, multiplier, kWh used, households."""
    if not any(extra.get(name) for name in ("MaCongTo", "ChiSoCu", "ChiSoMoi")):
        return
    pen.y -= 3
    pen.rule(dash=True)
    head = []
    if extra.get("MaCongTo"):
        head.append(("Mã công tơ (Meter)", extra["MaCongTo"]))
    if extra.get("TuNgay") and extra.get("DenNgay"):
        head.append(("Kỳ ghi chỉ số (Reading period)", f"{extra['TuNgay']} - {extra['DenNgay']}"))
    if head:
        pen.pairs(head, columns=[LEFT, LEFT + WIDTH * 0.42][: len(head)])
    values = []
    for name, label in _METER_FIELDS:
        value = extra.get(name)
        if value:
            unit = " kWh" if name == "DienNangTieuThu" else ""
            values.append((label, f"{value}{unit}"))
    if extra.get("QuayVongCongTo") == "1":
        values.append(("Công tơ quay vòng (Rolled over)", "có"))
    for start in range(0, len(values), 3):
        chunk = values[start : start + 3]
        columns = [LEFT, LEFT + WIDTH * 0.34, LEFT + WIDTH * 0.67]
        pen.pairs(chunk, columns=columns[: len(chunk)])


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
    pen: _Pen, last_page: int, qr_lines: Sequence[str] = (), *, with_qr: bool = True
) -> tuple[PageBox, PageBox]:
    """Captions, the QR box (left, with ``qr_lines`` under it) and the seller's signature box.

    Without a payment code (``with_qr`` false: no payee configured, nothing payable)
    the QR's caption is left out too: a bill never shows an empty "scan to pay" box.
    """
    fonts = pen.fonts
    top = pen.y - 6
    qr = PageBox(last_page, LEFT + 6, top - LEADING - 4 - QR_SIZE, QR_SIZE, QR_SIZE)
    buyer_x = LEFT + WIDTH * 0.40
    seller_x = RIGHT - SIGNATURE_WIDTH / 2 - 4
    pen.y = top - LEADING
    if with_qr:
        pen.text(
            qr.x + QR_SIZE / 2,
            "Quét mã để thanh toán",
            font=fonts.italic,
            size=SMALL,
            align="center",
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
