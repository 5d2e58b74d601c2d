"""End to end: the reference in the bill's QR and under it is the one a transfer is matched by."""

from __future__ import annotations

import subprocess
from datetime import date
from decimal import Decimal
from pathlib import Path

import pypdfium2 as pdfium
import zxingcpp

from evservice._context import Context
from evservice.clock import ManualClock
from evservice.config import Settings
from evservice.invoices import issue
from evservice.payments import VietQR, reference
from evservice.reconcile import BankTransaction, receivable_of, reconcile, track_invoices

from ..invoices.test_issue import make_draft


def test_scan_pay_and_match(tmp_path: Path, sqlite_url: str, clock: ManualClock) -> None:
    settings = Settings(
        data_dir=tmp_path / "data",
        database_url=sqlite_url,
        payee_bank_bin="970436",
        payee_account="0011001234567",
        payee_name="EVN HANOI",
        _env_file=None,  # type: ignore[call-arg]
    )
    ctx = Context(settings=settings, clock=clock)
    issued = issue(make_draft(), ctx=ctx)
    assert issued.pdf_path is not None
    expected = receivable_of(issued).reference
    assert reference.is_valid(expected)

    doc = pdfium.PdfDocument(issued.pdf_path.read_bytes())
    image = doc[len(doc) - 1].render(scale=3).to_pil()
    found = zxingcpp.read_barcodes(image)
    doc.close()
    assert len(found) == 1
    code = VietQR.from_payload(found[0].text)
    assert code.purpose == f"HD {expected}"

    text = subprocess.run(
        ["pdftotext", "-layout", str(issued.pdf_path), "-"],
        capture_output=True,
        check=True,
        text=True,
    ).stdout
    assert f"Mã thanh toán: {reference.format(expected)}" in text
    assert f"Nội dung: HD {expected}" in text

    # The banking app copies the purpose into the transfer; the bank reports it back.
    track_invoices([issued], ctx=ctx)
    memo = f"MBVCB.8812345.{code.purpose}.CT tu 0123456789 NGUYEN VAN A"
    tx = BankTransaction("FT26310001", Decimal(code.amount or 0), date(2026, 11, 2), memo)
    outcome = reconcile([tx], ctx=ctx).outcomes[0]
    assert (outcome.status, outcome.invoice_id) == ("applied", issued.row_id)
