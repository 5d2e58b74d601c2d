"""Contract PDFs with reportlab: the document shown to the customer, and the final one.

The document shown is the contract alone (articles, parties, a verification QR
and, when something is due on signing, a VietQR payment code). The final
document is the same pages, rendered again byte-for-byte alike in content,
followed by the consent evidence page(s); the sealing step attaches the shown
PDF itself to the final one, so anyone can re-hash exactly what the customer saw.

Rendering is deterministic (``invariant=1``): the same contract gives the same
bytes, which is what lets a code be bound to the SHA-256 of the document shown.
Contracts are few next to invoices, so platypus (flowing paragraphs) is used.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.platypus import (
    Flowable,
    KeepTogether,
    PageBreak,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)

from evservice.clock import vn_date
from evservice.contracts._model import Contract
from evservice.contracts._templates import TITLES, render_clauses
from evservice.money import format_vnd
from evservice.pdf import register_fonts

__all__ = ["EvidenceRow", "group_hex", "render_contract_pdf"]


def group_hex(digest: str, size: int = 16) -> str:
    """A long hex digest in groups of ``size`` so that it wraps cleanly on the page."""
    return " ".join(digest[i : i + size] for i in range(0, len(digest), size))


@dataclass(frozen=True)
class EvidenceRow:
    """One line of the evidence page: a label and its value (already masked)."""

    label: str
    value: str


class _QrFlowable(Flowable):  # type: ignore[misc]  # reportlab has no type hints
    """A QR code drawn as vector graphics, with a caption under it."""

    def __init__(self, payload: str, size: float, caption: str, font: str) -> None:
        super().__init__()
        self.payload, self.size, self.caption, self.font = payload, size, caption, font
        self.width, self.height = size, size + 10

    def draw(self) -> None:
        from evservice.payments import draw_qr

        draw_qr(self.canv, self.payload, 0, 10, self.size)
        self.canv.setFont(self.font, 7)
        self.canv.drawCentredString(self.size / 2, 1, self.caption)


def _styles() -> dict[str, ParagraphStyle]:
    fonts = register_fonts()
    base = ParagraphStyle("base", fontName=fonts.regular, fontSize=10, leading=13.5)
    return {
        "base": base,
        "center": ParagraphStyle("center", parent=base, alignment=1),
        "title": ParagraphStyle(
            "title", parent=base, fontName=fonts.bold, fontSize=14, leading=18, alignment=1
        ),
        "h": ParagraphStyle("h", parent=base, fontName=fonts.bold, spaceBefore=6),
        "clause": ParagraphStyle("clause", parent=base, leftIndent=6 * mm, firstLineIndent=0),
        "small": ParagraphStyle("small", parent=base, fontSize=8, leading=10),
        "bold": ParagraphStyle("bold", parent=base, fontName=fonts.bold),
    }


def _p(text: str, style: ParagraphStyle) -> Paragraph:
    return Paragraph(escape(text), style)


def _contract_story(
    contract: Contract, st: dict[str, ParagraphStyle], verify_payload: str, pay_payload: str | None
) -> list[Flowable]:
    d = contract.draft
    fonts = register_fonts()
    # The day the contract is drawn up and offered (its creation, Vietnam time): the
    # document shown is hashed before anyone signs, so it cannot carry a signing date;
    # each party's signing time is on the evidence page. The service starts later.
    made = vn_date(contract.created_at)
    story: list[Flowable] = [
        _p("CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", st["center"]),
        _p("Độc lập - Tự do - Hạnh phúc", st["center"]),
        Spacer(1, 5 * mm),
        _p(TITLES[d.kind], st["title"]),
        _p(f"Số: {contract.number}", st["center"]),
        Spacer(1, 4 * mm),
        _p(
            f"Hôm nay, ngày {made.day:02d} tháng {made.month:02d} năm "
            f"{made.year}, tại {d.sign_place}, chúng tôi gồm:",
            st["base"],
        ),
        _p(f"BÊN A (Bên bán): {d.provider.name}", st["h"]),
        _p(f"Mã số thuế: {d.provider.tax_code}", st["clause"]),
        _p(f"Địa chỉ: {d.provider.address}", st["clause"]),
        _p(
            f"Đại diện: {d.provider.representative} - Chức vụ: {d.provider.representative_title}",
            st["clause"],
        ),
        _p(f"BÊN B (Bên mua): {d.customer.name}", st["h"]),
    ]
    c = d.customer
    if c.id_number:
        story.append(_p(f"Số CCCD: {c.id_number}", st["clause"]))
    if c.tax_code:
        story.append(_p(f"Mã số thuế: {c.tax_code}", st["clause"]))
    story.append(_p(f"Địa chỉ: {c.address}", st["clause"]))
    contacts = [x for x in (c.phone, c.email) if x]
    story.append(_p("Liên hệ nhận mã xác thực: " + "; ".join(contacts), st["clause"]))
    story.append(_p("Hai bên thỏa thuận ký kết hợp đồng với các điều khoản sau:", st["base"]))
    for article in render_clauses(d):
        story.append(_p(f"Điều {article.number}. {article.title}", st["h"]))
        for clause in article.clauses:
            story.append(_p(f"{clause.number}. {clause.text}", st["clause"]))
    sign = Table(
        [
            [_p("ĐẠI DIỆN BÊN A", st["bold"]), _p("BÊN B", st["bold"])],
            [
                _p(f"{d.provider.representative_title} {d.provider.representative}", st["small"]),
                _p(f"{c.name} - xác nhận bằng mã OTP", st["small"]),
            ],
            [_p("(Ký số)", st["small"]), _p("(Xác nhận điện tử)", st["small"])],
        ],
        colWidths=[85 * mm, 85 * mm],
    )
    sign.setStyle(TableStyle([("ALIGN", (0, 0), (-1, -1), "CENTER")]))
    qrs: list[Any] = [_QrFlowable(verify_payload, 30 * mm, "Tra cứu hợp đồng", fonts.regular)]
    caption = _p("Quét mã để tra cứu và kiểm tra hợp đồng.", st["small"])
    if pay_payload is not None:
        qrs.append(_QrFlowable(pay_payload, 30 * mm, "VietQR thanh toán", fonts.regular))
        caption = _p(
            f"Quét mã để tra cứu hợp đồng; mã VietQR để thanh toán "
            f"{format_vnd(d.amount_due)} đồng khi ký.",
            st["small"],
        )
    codes = Table([[*qrs, caption]], colWidths=[36 * mm] * len(qrs) + [None])
    # Signatures and codes stay together, so the codes never sit alone on a page.
    story.append(KeepTogether([Spacer(1, 6 * mm), sign, Spacer(1, 6 * mm), codes]))
    return story


def _evidence_story(rows: Sequence[EvidenceRow], st: dict[str, ParagraphStyle]) -> list[Flowable]:
    table = Table(
        [[_p(r.label, st["bold"]), _p(r.value, st["base"])] for r in rows],
        colWidths=[55 * mm, 115 * mm],
    )
    table.setStyle(
        TableStyle(
            [
                ("GRID", (0, 0), (-1, -1), 0.4, colors.grey),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ]
        )
    )
    return [
        PageBreak(),
        _p("TRANG CHỨNG CỨ GIAO KẾT ĐIỆN TỬ", st["title"]),
        _p("Certificate of completion", st["center"]),
        Spacer(1, 5 * mm),
        table,
        Spacer(1, 5 * mm),
        _p(
            "Văn bản khách hàng đã xem được đính kèm trong tệp này (shown.pdf); mã băm SHA-256 "
            "của nó phải trùng với giá trị trên. Bên A niêm phong tệp bằng chữ ký số PAdES.",
            st["small"],
        ),
    ]


def render_contract_pdf(
    contract: Contract,
    *,
    verify_payload: str,
    pay_payload: str | None = None,
    evidence: Sequence[EvidenceRow] | None = None,
) -> bytes:
    """The contract PDF; with ``evidence``, followed by the evidence page (the final document)."""
    st = _styles()
    buf = io.BytesIO()
    doc = SimpleDocTemplate(
        buf,
        pagesize=A4,
        leftMargin=18 * mm,
        rightMargin=18 * mm,
        topMargin=15 * mm,
        bottomMargin=15 * mm,
        title=f"{TITLES[contract.draft.kind]} {contract.number}",
        author=contract.draft.provider.name,
        subject=contract.number,
        invariant=1,
    )
    story = _contract_story(contract, st, verify_payload, pay_payload)
    if evidence is not None:
        story += _evidence_story(evidence, st)
    fonts = register_fonts()

    def _footer(canvas: Any, document: Any) -> None:
        canvas.saveState()
        canvas.setFont(fonts.regular, 7)
        canvas.drawRightString(
            A4[0] - 18 * mm, 8 * mm, f"{contract.number} - Trang {document.page}"
        )
        canvas.restoreState()

    doc.build(story, onFirstPage=_footer, onLaterPages=_footer)
    return buf.getvalue()
