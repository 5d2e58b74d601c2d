"""Proof that the drawn codes scan: PDF page -> image (pdfium, poppler) -> zxing-cpp -> payload."""

from __future__ import annotations

import io
import re
import subprocess
from pathlib import Path
from typing import Any

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_raw
import pytest
import zxingcpp
from PIL import Image
from reportlab.lib.pagesizes import A4
from reportlab.pdfgen.canvas import Canvas

from evservice.errors import PaymentCodeError
from evservice.payments import (
    DEFAULT_MASK,
    QUIET_ZONE,
    PayeeAccount,
    VietQR,
    draw_payment_block,
    draw_qr,
    emv,
    epc_qr,
    make_qr,
    vietqr_for_invoice,
)
from evservice.payments._draw import qr_operators
from evservice.pdf import PdfCanvas, register_fonts


@pytest.fixture(scope="module")
def font() -> str:
    return register_fonts().regular  # the shipped DejaVu Sans, with Vietnamese glyphs


@pytest.fixture(scope="module")
def code() -> VietQR:
    payee = PayeeAccount("970436", "0071001234567", "TONG CONG TY DIEN LUC HA NOI")
    return vietqr_for_invoice(payee, 1_234_567, series="C26TAA", number=123)


def _invoice_page(code: VietQR, font: str) -> bytes:
    """An A4 page laid out like a bill: header, lines of text, the payment block."""
    buffer = io.BytesIO()
    canvas = Canvas(buffer, pagesize=A4, pageCompression=0)
    canvas.setFont(font, 14)
    canvas.drawString(50, 790, "HÓA ĐƠN GIÁ TRỊ GIA TĂNG (TIỀN ĐIỆN)")
    canvas.setFont(font, 9)
    for i, line in enumerate(
        [
            "Ký hiệu: 1C26TAA    Số: 00000123    Ngày 01 tháng 11 năm 2026",
            "Đơn vị bán: Tổng công ty Điện lực TP Hà Nội - MST 0100101114",
            "Khách hàng: Nguyễn Văn An - Mã KH PD01000123456",
            "Điện năng tiêu thụ: 412 kWh    Thành tiền: 1.143.118 đ    Thuế GTGT 8%: 91.449 đ",
            "Tổng cộng tiền thanh toán: 1.234.567 đ",
        ]
    ):
        canvas.drawString(50, 760 - 14 * i, line)
    draw_payment_block(canvas, code, 50, 520, 113, account_name="TONG CONG TY DIEN LUC HA NOI")
    canvas.drawString(50, 500, "Quét mã QR bằng ứng dụng ngân hàng để thanh toán đúng số tiền.")
    canvas.showPage()
    canvas.save()
    return buffer.getvalue()


def _scan(image: Image.Image) -> list[Any]:
    return [r for r in zxingcpp.read_barcodes(image) if r.format == zxingcpp.BarcodeFormat.QRCode]


def _render_pdfium(pdf: bytes, scale: float = 2.0) -> Image.Image:
    document = pdfium.PdfDocument(pdf)
    try:
        return document[0].render(scale=scale).to_pil().convert("L")
    finally:
        document.close()


def test_invoice_page_scans_to_the_exact_payload(code: VietQR, font: str) -> None:
    pdf = _invoice_page(code, font)
    results = _scan(_render_pdfium(pdf))
    assert len(results) == 1
    text = results[0].text
    assert text == code.payload()
    assert emv.validate(text) == text  # the CRC (and every field) checks out
    assert emv.crc16(text[:-4]) == text[-4:]
    assert VietQR.from_payload(text) == code
    assert results[0].ec_level == "M"


def test_invoice_page_scans_when_rendered_by_poppler(
    code: VietQR, font: str, tmp_path: Path
) -> None:
    pdf_path = tmp_path / "invoice.pdf"
    pdf_path.write_bytes(_invoice_page(code, font))
    subprocess.run(
        [
            "pdftoppm",
            "-r",
            "150",
            "-gray",
            "-png",
            "-singlefile",
            str(pdf_path),
            str(tmp_path / "p"),
        ],
        check=True,
        capture_output=True,
    )
    with Image.open(tmp_path / "p.png") as image:
        results = _scan(image)
    assert [r.text for r in results] == [code.payload()]


def test_text_beside_the_code(code: VietQR, font: str) -> None:
    document = pdfium.PdfDocument(_invoice_page(code, font))
    try:
        text = document[0].get_textpage().get_text_range()
    finally:
        document.close()
    for expected in (
        "Ngân hàng: Vietcombank (970436)",
        "Số tài khoản: 0071001234567",
        "Chủ tài khoản: TONG CONG TY DIEN LUC HA NOI",
        "Số tiền: 1.234.567 đ",
        "Nội dung: HD 1C26TAA0000012375",
        "Mã thanh toán: 1C26TAA-00000123-75",
    ):
        assert expected in text


def test_drawn_as_one_vector_path_with_merged_runs(code: VietQR) -> None:
    payload = code.payload()
    buffer = io.BytesIO()
    canvas = Canvas(buffer, pagesize=(200, 200), pageCompression=0)
    draw_qr(canvas, payload, 20, 30, 150)
    canvas.showPage()
    canvas.save()
    pdf = buffer.getvalue()

    document = pdfium.PdfDocument(pdf)
    try:
        objects = list(document[0].get_objects())
        kinds = [o.type for o in objects]
        assert pdfium_raw.FPDF_PAGEOBJ_IMAGE not in kinds  # no raster round trip
        assert kinds == [pdfium_raw.FPDF_PAGEOBJ_PATH, pdfium_raw.FPDF_PAGEOBJ_PATH]
        background, symbol = (o.get_bounds() for o in objects)
    finally:
        document.close()

    matrix = make_qr(payload).matrix
    module = 150 / (len(matrix) + 2 * QUIET_ZONE)
    assert background == pytest.approx((20, 30, 170, 180), abs=0.01)
    quiet = QUIET_ZONE * module
    assert symbol == pytest.approx((20 + quiet, 30 + quiet, 170 - quiet, 180 - quiet), abs=0.01)

    runs = sum(len(re.findall(rb"\x01+", bytes(row))) for row in matrix)
    assert len(re.findall(rb" re\b", pdf)) == runs + 1  # one rect per run, plus the background
    # In module units every run is a short integer rectangle ("12 3 4 1 re").
    assert len(re.findall(rb"(?<![.\d])\d+ \d+ \d+ 1 re\b", pdf)) == runs
    assert runs < 0.7 * sum(sum(row) for row in matrix)  # merging drops over 30 % of the rects


@pytest.mark.parametrize("mask", [None, *range(8)])
def test_every_mask_scans(code: VietQR, mask: int | None) -> None:
    payload = code.payload()
    buffer = io.BytesIO()
    canvas = Canvas(buffer, pagesize=(120, 120))
    draw_qr(canvas, payload, 10, 10, 100, mask=mask)
    canvas.showPage()
    canvas.save()
    results = _scan(_render_pdfium(buffer.getvalue(), scale=3))
    assert [r.text for r in results] == [payload]


def test_fixed_mask_is_the_default(code: VietQR) -> None:
    assert DEFAULT_MASK == 0
    assert make_qr(code.payload()).mask == 0
    assert make_qr(code.payload(), mask=5).mask == 5
    assert make_qr(code.payload(), mask=None).mask in range(8)


def test_epc_code_with_accents_scans(font: str) -> None:
    payload = epc_qr(
        "Stadtwerke Müller GmbH",
        "DE33100205000001194700",
        amount="84.90",
        text="Rechnung 2026-11 Strom",
    )
    buffer = io.BytesIO()
    canvas = Canvas(buffer, pagesize=(160, 160))
    draw_qr(canvas, payload, 5, 5, 150)
    canvas.showPage()
    canvas.save()
    assert [r.text for r in _scan(_render_pdfium(buffer.getvalue(), scale=3))] == [payload]


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"size": 0}, "size"),
        ({"size": -5}, "size"),
        ({"error": "X"}, "error"),
        ({"mask": 8}, "mask"),
        ({"mask": True}, "mask"),
        ({"payload": ""}, "payload"),
        ({"payload": "0" * 2000 + "é" * 1000, "error": "H"}, "payload"),
    ],
)
def test_draw_errors(kwargs: dict[str, Any], field: str) -> None:
    args: dict[str, Any] = {"payload": "000201", "x": 0, "y": 0, "size": 100, **kwargs}
    canvas = Canvas(io.BytesIO(), pagesize=A4)
    with pytest.raises(PaymentCodeError) as info:
        draw_qr(canvas, **args)
    assert info.value.field == field


def test_draw_qr_adds_qr_operators_inside_a_saved_state(code: VietQR) -> None:
    payload = code.payload()
    operators = qr_operators(payload, 20, 30, 150)
    assert operators.startswith("q\n1 1 1 rg\n20 30 150 150 re f\n0 0 0 rg\n")
    assert operators.endswith("\nf\nQ")
    buffer = io.BytesIO()
    canvas = Canvas(buffer, pagesize=(200, 200), pageCompression=0)
    draw_qr(canvas, payload, 20, 30, 150)
    canvas.showPage()
    canvas.save()
    assert operators.encode() in buffer.getvalue()


def test_a_code_drawn_by_the_invoice_writer_scans(code: VietQR, tmp_path: Path) -> None:
    payload = code.payload()
    canvas = PdfCanvas((160, 160))
    canvas.setFillColorRGB(0.75, 0.08, 0.08)  # restored after the code
    draw_qr(canvas, payload, 5, 5, 150)
    canvas.rect(0, 0, 4, 4, stroke=0, fill=1)
    pdf = canvas.save()
    assert [r.text for r in _scan(_render_pdfium(pdf, scale=3))] == [payload]
    path = tmp_path / "code.pdf"
    path.write_bytes(pdf)
    subprocess.run(
        ["pdftoppm", "-r", "216", "-png", "-singlefile", str(path), str(tmp_path / "p")],
        check=True,
        capture_output=True,
    )
    with Image.open(tmp_path / "p.png") as image:
        assert [r.text for r in _scan(image)] == [payload]
        red = image.convert("RGB").getpixel((3, image.height - 3))
    assert red[0] > 150 > red[1]  # the fill colour set before the code still holds
