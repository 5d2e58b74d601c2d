"""The invoice PDF: Vietnamese text as pdftotext reads it, pagination, boxes, QR and metadata."""

from __future__ import annotations

import subprocess
import unicodedata
import uuid
from datetime import UTC, date, datetime
from decimal import Decimal
from io import BytesIO
from pathlib import Path
from typing import Any

import pypdfium2 as pdfium
import pytest
import zxingcpp
from hypothesis import given, settings
from hypothesis import strategies as st
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.fields import SigFieldSpec, append_signature_field
from reportlab.pdfbase import pdfmetrics

from evservice.invoices import Invoice, InvoiceDraft, RenderedPdf, render_invoice_pdf
from evservice.invoices._pdfpen import BOTTOM
from evservice.payments import vietqr_for_invoice
from evservice.pdf import register_fonts
from evservice.vn import amount_in_words

SELLER = {
    "name": "Tổng công ty Điện lực miền Bắc - Công ty Điện lực Hải Dương",
    "tax_code": "0100100079",
    "address": "Số 33 Đại lộ Hồ Chí Minh, phường Nguyễn Trãi, thành phố Hải Dương",
    "phone": "19006769",
    "bank_account": "0011004000000",
    "bank_name": "Vietcombank - CN Hải Dương",
}
TIERS = [
    ("Điện sinh hoạt bậc 1 (0 - 50 kWh)", "50", "1984"),
    ("Điện sinh hoạt bậc 2 (51 - 100 kWh)", "50", "2050"),
    ("Điện sinh hoạt bậc 3 (101 - 200 kWh)", "100", "2380"),
    ("Điện sinh hoạt bậc 4 (201 - 300 kWh)", "37", "2998"),
]
LOOKUP_URL = "https://tracuu.evservice.example/"


def make_invoice(lines: list[dict[str, Any]] | None = None, **changes: Any) -> Invoice:
    data: dict[str, Any] = {
        "series": "C26TAA",
        "issue_date": date(2026, 10, 31),
        "seller": SELLER,
        "buyer": {
            "person_name": "Nguyễn Thị Ánh Tuyết",
            "customer_code": "PA01000001",
            "address": "Số 1 Ngõ 2 Phố Đông Hải, phường Đống Đa, Hải Dương",
        },
        "lines": lines
        or [
            {"name": name, "unit": "kWh", "quantity": q, "unit_price": p, "vat_rate": "8%"}
            for name, q, p in TIERS
        ],
        "payment": {"bank_bin": "970436", "account": "0011004000000", "account_name": "EVN NPC"},
    }
    data.update(changes)
    return Invoice(
        id=uuid.uuid4(),
        draft=InvoiceDraft.model_validate(data),
        number=123,
        lookup_code="ABCD2345EFGH",
        issued_at=datetime(2026, 10, 31, 3, 0, tzinfo=UTC),
    )


def pdftotext(pdf: bytes, tmp_path: Path, page: int | None = None) -> str:
    """The text of the PDF (or one 1-based page) with whitespace runs collapsed."""
    path = tmp_path / "invoice.pdf"
    path.write_bytes(pdf)
    pages = ["-f", str(page), "-l", str(page)] if page else []
    out = subprocess.run(
        ["pdftotext", "-layout", "-enc", "UTF-8", *pages, str(path), "-"],
        check=True,
        capture_output=True,
    ).stdout.decode()
    return " ".join(out.split())


def poppler(tool: str, pdf: bytes, tmp_path: Path) -> str:
    path = tmp_path / "invoice.pdf"
    path.write_bytes(pdf)
    return subprocess.run([tool, str(path)], check=True, capture_output=True).stdout.decode()


@pytest.fixture(scope="module")
def bill() -> tuple[Invoice, RenderedPdf]:
    invoice = make_invoice()
    return invoice, render_invoice_pdf(invoice, lookup_url=LOOKUP_URL)


def test_the_vietnamese_text_reads_back_exactly(
    bill: tuple[Invoice, RenderedPdf], tmp_path: Path
) -> None:
    invoice, rendered = bill
    text = pdftotext(rendered.pdf, tmp_path)
    words = amount_in_words(invoice.totals.payable)
    for expected in [
        "HÓA ĐƠN GIÁ TRỊ GIA TĂNG",
        "(Bản thể hiện của hóa đơn điện tử)",
        "Ngày 31 tháng 10 năm 2026",
        "Ký hiệu (Serial): 1C26TAA",
        "Số (No.): 00000123",
        "Tổng công ty Điện lực miền Bắc - Công ty Điện lực Hải Dương",
        "Mã số thuế (Tax code): 0100100079",
        "Số 33 Đại lộ Hồ Chí Minh, phường Nguyễn Trãi, thành phố Hải Dương",
        "Họ tên người mua hàng (Buyer): Nguyễn Thị Ánh Tuyết",
        "Tên đơn vị (Company):",
        "Hình thức thanh toán (Payment method): TM/CK",
        "Tên hàng hóa, dịch vụ",
        "Điện sinh hoạt bậc 3 (101 - 200 kWh)",
        "Cộng tiền hàng (Total amount before VAT): 550.626",
        "Tiền thuế GTGT (VAT amount): 44.050",
        "Tổng cộng tiền thanh toán (Total payment): 594.676",
        f"Số tiền viết bằng chữ (Amount in words): {words}.",
        "Mã tra cứu (Lookup code): ABCD-2345-EFGH",
        f"Tra cứu hóa đơn tại (Look up at): {LOOKUP_URL}",
        "Trang 1/1",
    ]:
        assert expected in text, expected
    assert invoice.totals.payable == Decimal(594676)
    assert rendered.page_count == 1


def test_rows_show_quantities_prices_and_rates_in_vietnamese_style(tmp_path: Path) -> None:
    invoice = make_invoice(
        [
            {
                "name": "Cước Internet (15 ngày)",
                "unit": "Tháng",
                "quantity": "0.5",
                "unit_price": "250000.5",
                "vat_rate": "10%",
            },
            {"name": "Phí lắp đặt", "amount": "100000", "vat_rate": "KCT"},
            {
                "name": "Thiết bị",
                "unit": "Cái",
                "quantity": "2",
                "unit_price": "1250000",
                "discount_rate": "5",
                "vat_rate": "8%",
            },
            {
                "kind": 3,
                "name": "Giảm giá khách hàng thân thiết",
                "amount": "20000",
                "vat_rate": "10%",
            },
            {"kind": 4, "name": "Kỳ cước tháng 10/2026"},
        ]
    )
    text = pdftotext(render_invoice_pdf(invoice).pdf, tmp_path)
    assert "1 Cước Internet (15 ngày) Tháng 0,5 250.000,5 125.000 10%" in text
    assert "2 Phí lắp đặt 100.000 KCT" in text
    assert "Chiết khấu 5%: -125.000" in text
    assert "-20.000" in text
    assert "Kỳ cước tháng 10/2026" in text
    assert "Không chịu thuế GTGT 100.000" in text
    assert "Chiết khấu thương mại (Trade discount): 20.000" in text


def test_a_replacement_names_the_invoice_it_replaces(tmp_path: Path) -> None:
    related = {
        "kind": 1,
        "template": "1",
        "series": "C26TAA",
        "number": 12,
        "issue_date": date(2026, 10, 15),
        "note": "Sai chỉ số công tơ",
    }
    text = pdftotext(render_invoice_pdf(make_invoice(related=related)).pdf, tmp_path)
    assert (
        "(Hóa đơn thay thế cho hóa đơn Mẫu số 1 Ký hiệu C26TAA Số 00000012 ngày 15/10/2026)" in text
    )
    assert "Sai chỉ số công tơ" in text
    adjusted = make_invoice(related={**related, "kind": 2})
    assert "Hóa đơn điều chỉnh cho hóa đơn Mẫu số 1" in pdftotext(
        render_invoice_pdf(adjusted).pdf, tmp_path
    )


def test_the_code_of_the_tax_authority_is_printed_under_the_date(tmp_path: Path) -> None:
    invoice = make_invoice()
    code = "00A1B2C3D4E5F60718293A4B5C6D7E8F90"
    text = pdftotext(render_invoice_pdf(invoice, tax_authority_code=code).pdf, tmp_path)
    assert f"Mã của cơ quan thuế (MCCQT): {code}" in text
    head = text[: text.index("Đơn vị bán hàng")]
    assert code in head  # in the header, before the seller
    assert "MCCQT" not in pdftotext(render_invoice_pdf(invoice).pdf, tmp_path)


def test_a_company_buyer_and_foreign_currency(tmp_path: Path) -> None:
    invoice = make_invoice(
        buyer={
            "name": "CÔNG TY TNHH HOA SEN VIỆT",
            "tax_code": "0104831030-091",
            "address": "Lô B2, KCN Tân Tạo",
            "bank_account": "1903456789012",
        },
        currency="USD",
        exchange_rate="25410.5",
    )
    text = pdftotext(render_invoice_pdf(invoice).pdf, tmp_path)
    assert "Tên đơn vị (Company): CÔNG TY TNHH HOA SEN VIỆT" in text
    assert "Mã số thuế (Tax code): 0104831030-091" in text
    assert "Số tài khoản (Account No.): 1903456789012" in text
    assert "Tỷ giá (Exchange rate): 25.410,5" in text


def test_two_hundred_lines_flow_onto_pages_with_totals_on_the_last(tmp_path: Path) -> None:
    lines = [
        {
            "name": f"Dịch vụ số {i:03d} với một tên dài để xuống dòng trong cột tên hàng hóa",
            "unit": "Gói",
            "quantity": str(i),
            "unit_price": "12500",
            "vat_rate": "10%",
        }
        for i in range(1, 201)
    ]
    invoice = make_invoice(lines)
    rendered = render_invoice_pdf(invoice, lookup_url=LOOKUP_URL)
    pages = rendered.page_count
    assert pages >= 3
    assert f"Pages: {pages}" in " ".join(poppler("pdfinfo", rendered.pdf, tmp_path).split())
    assert rendered.qr_box.page == rendered.signature_box.page == pages - 1
    seen: list[str] = []
    for page in range(1, pages + 1):
        text = pdftotext(rendered.pdf, tmp_path, page)
        assert f"Trang {page}/{pages}" in text
        assert "Tên hàng hóa, dịch vụ" in text  # the table header repeats
        seen += [f"{i:03d}" for i in range(1, 201) if f"Dịch vụ số {i:03d} " in text]
        last = page == pages
        for total in ("Cộng tiền hàng", "Tổng cộng tiền thanh toán", "Số tiền viết bằng chữ"):
            assert (total in text) is last, (total, page)
        assert ("Người bán hàng" in text) is last
        assert ("Đơn vị bán hàng" in text) is (page == 1)
    assert seen == [f"{i:03d}" for i in range(1, 201)]  # every line once, in order
    payable = f"{invoice.totals.payable:,}".replace(",", ".")
    assert f"Tổng cộng tiền thanh toán (Total payment): {payable}" in pdftotext(
        rendered.pdf, tmp_path, pages
    )


def test_the_last_page_always_continues_the_table_above_the_totals(tmp_path: Path) -> None:
    """Whatever the line count, totals and boxes fit above the footer with rows before them."""
    counts: set[int] = set()
    for count in range(14, 34):
        lines = [
            {
                "name": f"Dịch vụ số {i:03d}",
                "unit": "Gói",
                "quantity": "1",
                "unit_price": "12500",
                "vat_rate": "10%",
            }
            for i in range(1, count + 1)
        ]
        rendered = render_invoice_pdf(make_invoice(lines))
        counts.add(rendered.page_count)
        last = pdftotext(rendered.pdf, tmp_path, rendered.page_count)
        assert f"Dịch vụ số {count:03d}" in last
        assert "Tổng cộng tiền thanh toán" in last
        for box in (rendered.qr_box, rendered.signature_box):
            assert box.page == rendered.page_count - 1
            assert box.y >= BOTTOM
    assert counts == {1, 2}  # the range crosses the point where the totals move on


def test_the_boxes_are_free_inside_the_page_and_below_the_totals(
    bill: tuple[Invoice, RenderedPdf],
) -> None:
    _, rendered = bill
    document = pdfium.PdfDocument(rendered.pdf)
    page = document[rendered.signature_box.page]
    width, height = page.get_size()
    text = page.get_textpage()
    for box in (rendered.qr_box, rendered.signature_box):
        x1, y1, x2, y2 = box.rect
        assert 0 < x1 < x2 < width
        assert 0 < y1 < y2 < height
        assert text.get_text_bounded(x1, y1, x2, y2).strip() == ""
    qr, sig = rendered.qr_box, rendered.signature_box
    assert qr.width == qr.height == pytest.approx(32 * 72 / 25.4)
    assert qr.x + qr.width < sig.x  # side by side, not overlapping
    searcher = text.search("Tổng cộng tiền thanh toán")
    found = searcher.get_next()
    assert found is not None
    totals_bottom = text.get_charbox(found[0])[1]
    assert totals_bottom > max(qr.y + qr.height, sig.y + sig.height)
    document.close()


def test_pyhanko_places_a_signature_field_in_the_signature_box(
    bill: tuple[Invoice, RenderedPdf],
) -> None:
    _, rendered = bill
    box = rendered.signature_box
    writer = IncrementalPdfFileWriter(BytesIO(rendered.pdf))
    append_signature_field(writer, SigFieldSpec("NguoiBan", on_page=box.page, box=box.rect))
    out = BytesIO()
    writer.write(out)
    reader = PdfFileReader(out)
    field = reader.root["/AcroForm"]["/Fields"][0].get_object()
    assert [float(v) for v in field["/Rect"]] == pytest.approx(list(box.rect))


def test_the_payment_qr_is_drawn_in_its_box_and_scans() -> None:
    invoice = make_invoice()
    assert invoice.draft.payment is not None
    payload = vietqr_for_invoice(
        invoice.draft.payment,
        invoice.totals.payable,
        series=invoice.draft.series,
        number=invoice.number,
    ).payload()
    rendered = render_invoice_pdf(invoice, qr_payload=payload)
    document = pdfium.PdfDocument(rendered.pdf)
    page = document[rendered.qr_box.page]
    scale = 4
    image = page.render(scale=scale).to_pil()
    box = rendered.qr_box
    _, height = page.get_size()
    crop = (
        int((box.x - 4) * scale),
        int((height - box.y - box.height - 4) * scale),
        int((box.x + box.width + 4) * scale),
        int((height - box.y + 4) * scale),
    )
    found = zxingcpp.read_barcodes(image.crop(crop))
    assert [code.text for code in found] == [payload]
    document.close()
    # Without a payload the box stays empty, with the same layout.
    plain = render_invoice_pdf(invoice)
    assert plain.qr_box == rendered.qr_box
    document = pdfium.PdfDocument(plain.pdf)
    image = document[plain.qr_box.page].render(scale=scale).to_pil()
    assert zxingcpp.read_barcodes(image.crop(crop)) == []
    document.close()


def test_output_is_deterministic_and_carries_document_info(
    bill: tuple[Invoice, RenderedPdf], tmp_path: Path
) -> None:
    invoice, rendered = bill
    assert render_invoice_pdf(invoice, lookup_url=LOOKUP_URL).pdf == rendered.pdf
    info = poppler("pdfinfo", rendered.pdf, tmp_path)
    assert "Title:           Hóa đơn giá trị gia tăng 1C26TAA-00000123" in info
    assert f"Author:          {SELLER['name']}" in info
    assert "Subject:         Hóa đơn điện tử 1C26TAA-00000123" in info
    assert "Page size:       595.276 x 841.89 pts (A4)" in info
    assert "ABCD2345EFGH" not in info  # the lookup code stays out of the metadata
    assert b"/FlateDecode" in rendered.pdf  # page streams are compressed


def test_every_font_is_embedded(bill: tuple[Invoice, RenderedPdf], tmp_path: Path) -> None:
    _, rendered = bill
    rows = poppler("pdffonts", rendered.pdf, tmp_path).splitlines()[2:]
    assert rows
    for row in rows:
        name, *_rest = row.split()
        assert "DejaVuSans" in name, row
        assert row.split()[-5:-2] == ["yes", "yes", "yes"], row  # emb sub uni


def test_decomposed_input_prints_composed_letters(tmp_path: Path) -> None:
    name = unicodedata.normalize("NFD", "Công ty Điện lực Hải Dương")
    invoice = make_invoice(seller={**SELLER, "name": name})
    text = pdftotext(render_invoice_pdf(invoice).pdf, tmp_path)
    assert "Công ty Điện lực Hải Dương" in text


def test_fonts_are_registered_once_per_process() -> None:
    first = register_fonts()
    font = pdfmetrics.getFont(first.regular)
    again = register_fonts()
    assert again is first
    assert pdfmetrics.getFont(again.regular) is font
    assert {first.regular, first.bold, first.italic} <= set(pdfmetrics.getRegisteredFontNames())


def test_letters_outside_the_fixed_subsets_read_back_in_every_font(tmp_path: Path) -> None:
    """Regular, bold and italic text with characters beyond ASCII and Vietnamese."""
    invoice = make_invoice(
        [
            {"name": "Phí dịch vụ “Ωmega” ½ tháng", "amount": "10000", "vat_rate": "KCT"},
            {"kind": 4, "name": "Ghi chú: Straße № 5 → ≥ 3 m²"},
        ],
        seller={**SELLER, "name": "Công ty Øresund Ærø ApS €"},
        buyer={"person_name": "Zoë Łukasiewicz-Ñúñez", "name": "ООО «Жуков и партнёры»"},
    )
    rendered = render_invoice_pdf(invoice)
    text = pdftotext(rendered.pdf, tmp_path)
    for expected in [
        "Đơn vị bán hàng (Seller): Công ty Øresund Ærø ApS €",  # bold
        "Họ tên người mua hàng (Buyer): Zoë Łukasiewicz-Ñúñez",  # regular
        "Tên đơn vị (Company): ООО «Жуков и партнёры»",  # bold
        "Phí dịch vụ “Ωmega” ½ tháng",
        "Ghi chú: Straße № 5 → ≥ 3 m²",  # italic
    ]:
        assert expected in text, expected
    rows = poppler("pdffonts", rendered.pdf, tmp_path).splitlines()[2:]
    faces = sorted(row.split()[0].split("+")[1] for row in rows)
    assert faces == sorted(["DejaVuSans", "DejaVuSans-Bold", "DejaVuSans-Oblique"] * 2)
    info = poppler("pdfinfo", rendered.pdf, tmp_path)
    assert "Author:          Công ty Øresund Ærø ApS €" in info


def _name_characters() -> list[str]:
    """Characters DejaVu Sans has that a name may hold and pdftotext gives back as they are.

    Letters, digits, punctuation and symbols, written left to right (pdftotext
    reorders right-to-left scripts), unchanged by NFC (the renderer composes).
    """
    face = pdfmetrics.getFont(register_fonts().regular).face
    keep = []
    for point in sorted(face.charToGlyph):
        char = chr(point)
        if (
            unicodedata.category(char)[0] in "LNPS"
            and unicodedata.bidirectional(char) in ("L", "EN", "ES", "ET", "CS", "ON")
            and unicodedata.normalize("NFC", char) == char
        ):
            keep.append(char)
    return keep


_NAME_CHARACTERS = _name_characters()


@settings(max_examples=40, deadline=None)
@given(
    words=st.lists(
        st.text(st.sampled_from(_NAME_CHARACTERS), min_size=1, max_size=8), min_size=1, max_size=3
    )
)
def test_any_buyer_name_in_dejavu_letters_reads_back_exactly(words: list[str]) -> None:
    name = " ".join(words)
    invoice = make_invoice(buyer={"person_name": name, "customer_code": "PA01000001"})
    out = subprocess.run(
        ["pdftotext", "-layout", "-enc", "UTF-8", "-", "-"],
        input=render_invoice_pdf(invoice).pdf,
        capture_output=True,
        check=True,
    )
    text = " ".join(out.stdout.decode().split())
    assert f"Họ tên người mua hàng (Buyer): {name} Tên đơn vị (Company):" in text
