"""What a customer needs to check a bill from the page alone (issue #18: items 1, 3, 4)."""

from __future__ import annotations

import subprocess
import uuid
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from evservice.invoices import (
    Invoice,
    InvoiceDraft,
    bill_subscription,
    price_reading,
    render_invoice_pdf,
)
from evservice.payments import PayeeAccount, vietqr_for_invoice

SELLER = {"name": "Công ty Điện lực Hoàn Kiếm", "tax_code": "0100101114", "address": "Hà Nội"}
BUYER = {"person_name": "Nguyễn Thị Mai", "address": "Số 12 Hàng Bạc, Hà Nội"}


def _invoice(lines: list[Any], extra: dict[str, str] | None = None) -> Invoice:
    draft = InvoiceDraft.model_validate(
        {
            "series": "C26TAA",
            "issue_date": date(2026, 12, 1),
            "seller": SELLER,
            "buyer": BUYER,
            "lines": [line.model_dump() for line in lines],
            "extra": extra or {},
        }
    )
    return Invoice(
        id=uuid.uuid4(),
        draft=draft,
        number=7,
        lookup_code="8XQG-N2K7-TXNY",
        issued_at=datetime(2026, 12, 1, 2, 0, tzinfo=UTC),
    )


def _text(pdf: bytes, tmp_path: Path) -> str:
    path = tmp_path / "bill.pdf"
    path.write_bytes(pdf)
    done = subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True)
    return " ".join(done.stdout.split())


def test_an_electricity_bill_prints_the_meter_reading(tmp_path: Path) -> None:
    priced = price_reading(
        {
            "meter_id": "PE0100012345",
            "period_start": date(2026, 10, 15),
            "period_end": date(2026, 11, 14),
            "kwh": 191,
            "households": 1,
        },
        tariff_code="EVN-SH",
    )
    extra = {
        "MaCongTo": "PE0100012345",
        "TuNgay": "15/10/2026",
        "DenNgay": "14/11/2026",
        "ChiSoCu": "147732",
        "ChiSoMoi": "147923",
        "DienNangTieuThu": "191",
        "SoHo": "1",
        "QuayVongCongTo": "0",
    }
    text = _text(render_invoice_pdf(_invoice(list(priced.lines), extra)).pdf, tmp_path)
    assert "Mã công tơ (Meter): PE0100012345" in text
    assert "Kỳ ghi chỉ số (Reading period): 15/10/2026 - 14/11/2026" in text
    assert "Chỉ số cũ (Previous): 147732" in text
    assert "Chỉ số mới (Current): 147923" in text
    assert "Điện năng tiêu thụ (Used): 191 kWh" in text
    assert 147923 - 147732 == 191  # what the customer checks: new - old = kWh billed
    assert "Hệ số nhân" not in text  # printed only for a meter that has a multiplier
    with_multiplier = {**extra, "HeSoNhan": "40", "QuayVongCongTo": "1"}
    text = _text(render_invoice_pdf(_invoice(list(priced.lines), with_multiplier)).pdf, tmp_path)
    assert "Hệ số nhân (Multiplier): 40" in text
    assert "Công tơ quay vòng (Rolled over): có" in text


def test_a_bill_without_a_meter_prints_no_meter_block(tmp_path: Path) -> None:
    line = bill_subscription(
        {"code": "NET150", "name": "Internet 150 Mbps", "monthly_fee": "165000", "vat_rate": "10%"},
        date(2026, 11, 1),
        date(2026, 11, 30),
    )
    assert "Mã công tơ" not in _text(render_invoice_pdf(_invoice([line])).pdf, tmp_path)


def test_a_part_month_line_shows_its_daily_rate_and_formula(tmp_path: Path) -> None:
    line = bill_subscription(
        {"code": "NET150", "name": "Internet 150 Mbps", "monthly_fee": "165000", "vat_rate": "10%"},
        date(2026, 11, 23),
        date(2026, 11, 30),
    )
    assert line.unit_price == Decimal("5500.0000")
    assert line.line_amount() == Decimal(44000)  # 165,000 x 8 / 30
    text = _text(render_invoice_pdf(_invoice([line])).pdf, tmp_path)
    assert "165.000 đ/tháng × 8/30 ngày" in text
    assert "5.500" in text
    assert "44.000" in text


def test_the_scan_to_pay_caption_comes_only_with_a_code(tmp_path: Path) -> None:
    line = bill_subscription(
        {"code": "NET150", "name": "Internet 150 Mbps", "monthly_fee": "165000", "vat_rate": "10%"},
        date(2026, 11, 1),
        date(2026, 11, 30),
    )
    invoice = _invoice([line])
    assert "Quét mã để thanh toán" not in _text(render_invoice_pdf(invoice).pdf, tmp_path)
    code = vietqr_for_invoice(
        PayeeAccount("970436", "0011001234567"),
        invoice.totals.payable,
        series=invoice.draft.series,
        number=invoice.number,
        lookup_code=invoice.lookup_code,
    )
    with_code = render_invoice_pdf(invoice, qr_payload=code.payload()).pdf
    assert "Quét mã để thanh toán" in _text(with_code, tmp_path)
