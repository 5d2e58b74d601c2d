"""The authority's 202: its coded, CQT-signed invoice kept as the record, and verified as such."""

from __future__ import annotations

import hashlib
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest
from lxml import etree
from sqlmodel import Session

from evservice import verify
from evservice._context import Context
from evservice.cli import main
from evservice.config import get_settings
from evservice.tax import (
    HttpGateway,
    MemoryGateway,
    Response,
    deliver_coded,
    invoice_code,
    list_messages,
    request_code,
    send_pending,
)
from evservice.tax._tables import TaxInvoiceCodeRow

from .authority import Authority, code_invoice, new_code
from .conftest import SELLER_SETTINGS, Month
from .test_withcode import _coded_ctx
from .tvan import serve

DS = "{http://www.w3.org/2000/09/xmldsig#}"
WHEN = datetime(2026, 11, 1, 2, 5, tzinfo=UTC)


def _xmlsec(path: Path, authority: Authority, xpath: str, id_element: str) -> int:
    done = subprocess.run(
        ["xmlsec1", "--verify", "--id-attr:Id", id_element, "--node-xpath", xpath,
         "--trusted-pem", str(authority.root_pem), "--insecure", str(path)],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    return done.returncode


def _row(ctx: Context, invoice_id: str) -> TaxInvoiceCodeRow:
    with Session(ctx.engine) as session:
        row = session.get(TaxInvoiceCodeRow, invoice_id)
        assert row is not None
        return row


def _cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    try:
        main(list(argv))
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    return code, capsys.readouterr().out


def test_the_tvan_returns_the_signed_coded_invoice_and_it_is_the_record(
    month: Month,
    authority: Authority,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    ctx = _coded_ctx(month.ctx)
    invoice = month.adjusted
    message_id = request_code(invoice.row_id, ctx=ctx)
    with serve(authority=authority.signer()) as tvan:
        gateway = HttpGateway(tvan.url)
        report = send_pending(ctx, gateway)
        again = send_pending(ctx, gateway)
        gateway.close()
    assert report.submitted == 1
    assert (report.answers, report.duplicates) == (2, 2)  # 999 + 202, each twice
    assert (again.submitted, again.answers, again.duplicates) == (0, 0, 4)
    code = tvan.codes[message_id]
    assert invoice_code(invoice.row_id, ctx=ctx) == code
    assert [m.id for m in list_messages(ctx, status="accepted")] == [message_id]
    row = _row(ctx, invoice.row_id)
    assert row.authority_signed
    assert row.coded_xml_path is not None
    coded = (ctx.data_dir / row.coded_xml_path).read_bytes()
    assert hashlib.sha256(coded).hexdigest() == row.coded_xml_sha256
    root = etree.fromstring(coded)
    assert [child.tag for child in root] == ["DLHDon", "MCCQT", "DSCKS"]
    slots = [slot.tag for slot in root.find("DSCKS")]  # type: ignore[union-attr]
    assert slots == ["NBan", "NMua", "CCKSKhac", "CQT"]  # the format's order
    assert root.findtext("MCCQT") == code

    # Our verifier: both signatures hold, the code is signed, nothing is left unsigned.
    result = verify(coded, ctx=ctx, trust_roots=[authority.root_pem])
    assert result.ok, result.text()
    names = [s.name for s in result.signatures]
    assert names == ["seller", "CQT/CQT"]
    assert result.content is not None
    assert result.content.uncovered == ()
    assert ("MCCQT", code) in result.content.values

    # xmlsec1 agrees on the authority's signature, and on the seller's.
    path = tmp_path / "coded.xml"
    path.write_bytes(coded)
    cqt = "//*[local-name()='CQT']/*[local-name()='Signature']"
    seller = "//*[local-name()='NBan']/*[local-name()='Signature']"
    assert _xmlsec(path, authority, cqt, "MCCQT") == 0
    assert _xmlsec(path, authority, seller, "DLHDon") == 0
    for name, value in SELLER_SETTINGS.items():
        monkeypatch.setenv(f"EVSERVICE_{name.upper()}", value)
    monkeypatch.setenv("EVSERVICE_DATA_DIR", str(ctx.settings.data_dir))
    monkeypatch.setenv("EVSERVICE_DATABASE_URL", str(ctx.settings.database_url))
    monkeypatch.setattr("evservice._context._default", None)  # verify's process-wide context
    get_settings.cache_clear()
    try:
        code_, out = _cli(capsys, "verify", str(path), "--trust-root", str(authority.root_pem))
        untrusted = _cli(capsys, "verify", str(path))[0]
    finally:
        get_settings.cache_clear()
    assert code_ == 0, out
    assert f"MCCQT = {code}" in out
    assert "NOT SIGNED" not in out
    assert untrusted == 1  # without the authority's root
    path.write_bytes(coded.replace(code.encode(), new_code().encode()))
    assert _xmlsec(path, authority, cqt, "MCCQT") != 0
    changed = verify(path.read_bytes(), ctx=ctx, trust_roots=[authority.root_pem])
    assert not changed.ok
    assert changed.content is not None
    assert "HDon/MCCQT" in changed.content.uncovered  # its signature no longer covers it

    # Delivered: the coded PDF carries the authority's XML; the whole verifies.
    assert deliver_coded(ctx).invoices == 1
    pdf = (ctx.data_dir / row.coded_xml_path).with_suffix(".pdf").read_bytes()
    on_pdf = verify(pdf, ctx=ctx, trust_roots=[authority.root_pem])
    assert on_pdf.ok, on_pdf.text()
    embedded = on_pdf.embedded_xml
    assert embedded is not None
    assert embedded.content is not None
    assert embedded.content.uncovered == ()
    assert [s.name for s in embedded.signatures] == ["seller", "CQT/CQT"]


def test_without_the_authority_root_the_code_signature_is_untrusted(
    month: Month, authority: Authority
) -> None:
    ctx = _coded_ctx(month.ctx)
    sent = month.adjusted.xml_path.read_bytes() if month.adjusted.xml_path else b""
    coded = code_invoice(sent, new_code(), authority.signer(), WHEN)
    result = verify(coded, ctx=ctx)
    (seller, cqt) = result.signatures
    assert seller.ok
    assert cqt.intact
    assert cqt.valid
    assert not cqt.trusted
    assert not result.ok


@pytest.mark.parametrize("forgery", ["other invoice data", "code not the answer's", "unsigned"])
def test_a_returned_invoice_that_is_not_ours_or_not_signed_is_refused(
    month: Month, authority: Authority, forgery: str
) -> None:
    ctx = _coded_ctx(month.ctx)
    invoice = month.adjusted
    message_id = request_code(invoice.row_id, ctx=ctx)
    gateway = MemoryGateway()
    send_pending(ctx, gateway)
    sent = invoice.xml_path.read_bytes() if invoice.xml_path else b""
    code = new_code()
    returned = code_invoice(sent, code, authority.signer(), WHEN)
    if forgery == "other invoice data":
        first_number = f"<SHDon>{invoice.number}</SHDon>".encode()
        assert first_number in returned
        returned = returned.replace(first_number, b"<SHDon>99</SHDon>")
    elif forgery == "unsigned":
        tree = etree.fromstring(returned)
        slot = tree.find("DSCKS/CQT")
        assert slot is not None
        slot.getparent().remove(slot)  # type: ignore[union-attr]
        returned = etree.tostring(tree)
    answer_code = new_code() if forgery == "code not the answer's" else code
    gateway.answers.append(
        Response(id="R202", message_id=message_id, type="202", accepted=True, code=answer_code,
                 invoice=returned)
    )  # fmt: skip
    send_pending(ctx, gateway)
    (message,) = list_messages(ctx, status="rejected")
    assert "không dùng được" in message.reasons[0]
    assert invoice_code(invoice.row_id, ctx=ctx) is None
    assert not (ctx.data_dir / "tax" / "coded" / f"{invoice.row_id}.xml").exists()
