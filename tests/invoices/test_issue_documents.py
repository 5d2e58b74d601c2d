"""What an issued invoice's files carry: the payment code scans, both signatures verify."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pypdfium2 as pdfium
import zxingcpp

import evservice
from evservice._context import Context
from evservice.clock import ManualClock
from evservice.config import Settings
from evservice.invoices import issue
from evservice.payments import VietQR, emv

from .test_issue import make_draft


def _ctx(tmp_path: Path, sqlite_url: str, clock: ManualClock) -> Context:
    settings = Settings(
        data_dir=tmp_path / "data",
        database_url=sqlite_url,
        payee_bank_bin="970436",
        payee_account="0011001234567",
        payee_name="EVN HANOI",
        _env_file=None,  # type: ignore[call-arg]
    )
    return Context(settings=settings, clock=clock)


def test_the_printed_code_scans_to_the_invoice_payment(
    tmp_path: Path, sqlite_url: str, clock: ManualClock
) -> None:
    ctx = _ctx(tmp_path, sqlite_url, clock)
    issued = issue(make_draft(), ctx=ctx)
    assert issued.pdf_path is not None
    doc = pdfium.PdfDocument(issued.pdf_path.read_bytes())
    image = doc[len(doc) - 1].render(scale=3).to_pil()
    found = zxingcpp.read_barcodes(image)
    doc.close()
    assert len(found) == 1
    payload = found[0].text
    assert emv.is_valid(payload)  # the CRC holds
    code = VietQR.from_payload(payload)
    assert code.amount == issued.invoice.totals.payable
    assert (code.bank_bin, code.account) == ("970436", "0011001234567")
    assert code.bill_number == f"C26TAA{issued.number:08d}"
    text = subprocess.run(
        ["pdftotext", "-layout", str(issued.pdf_path), "-"],
        capture_output=True,
        check=True,
        text=True,
    ).stdout
    assert "Số tài khoản: 0011001234567" in text
    assert "Chủ tài khoản: EVN HANOI" in text


def test_issued_documents_verify(tmp_path: Path, sqlite_url: str, clock: ManualClock) -> None:
    ctx = _ctx(tmp_path, sqlite_url, clock)
    issued = issue(make_draft(), ctx=ctx)
    assert issued.pdf_path is not None
    assert issued.xml_path is not None
    for path in (issued.pdf_path, issued.xml_path):
        report = evservice.verify(path, ctx=ctx)
        assert report.ok, report.summary()
