"""Coded invoices: the seller signs DLHDon, the authority (DSCKS/CQT) the code (MCCQT).

``sign_xml_element`` puts the ``CQT`` slot first in ``DSCKS``; the verdicts do not
depend on the slots' order."""

from __future__ import annotations

from pathlib import Path

from lxml import etree

from evservice import Context, verify
from evservice.invoices import invoice_to_xml
from evservice.signing import sign_invoice_xml, sign_xml_element
from evservice.tax import insert_code
from evservice.verification import SignatureReport

from .conftest import WHEN, Pki, invoice, xmlsec1

CODE = "00C0FFEE0123456789ABCDEF0123456789"
CQT_SIGNATURE = "//*[local-name()='CQT']/*[local-name()='Signature']"
SELLER_SIGNATURE = "//*[local-name()='NBan']/*[local-name()='Signature']"


def _coded(vpki: Pki, content: str = "MCCQT") -> bytes:
    """Seller-signed, coded, then signed by 'the authority' (the EC signer) over ``content``."""
    seller = sign_invoice_xml(invoice_to_xml(invoice()), vpki.rsa.document_signer(),
                              signing_time=WHEN)  # fmt: skip
    return sign_xml_element(
        insert_code(seller, CODE), vpki.ec.document_signer(), content=content, slot="CQT",
        signing_time=WHEN, signature_id="CQT",
    )  # fmt: skip


def _by_name(signatures: tuple[SignatureReport, ...]) -> dict[str, SignatureReport]:
    return {s.name: s for s in signatures}


def test_a_coded_invoice_verifies_whole_and_reports_the_signed_code(
    vpki: Pki, vctx: Context, tmp_path: Path
) -> None:
    coded = _coded(vpki)
    report = verify(coded, ctx=vctx)
    assert report.ok, report.text()
    assert sorted(s.name for s in report.signatures) == ["CQT/CQT", "seller"]
    assert report.content is not None
    assert report.content.uncovered == ()
    assert dict(report.content.values)["MCCQT"] == CODE
    path = tmp_path / "coded.xml"
    path.write_bytes(coded)
    trust = ("--trusted-pem", str(vpki.root_pem))
    done = xmlsec1(path, "--id-attr:Id", "MCCQT", "--node-xpath", CQT_SIGNATURE, *trust)
    assert done.returncode == 0, done.stderr
    assert xmlsec1(path, "--node-xpath", SELLER_SIGNATURE, *trust).returncode == 0

    path.write_bytes(coded.replace(CODE.encode(), CODE[:-1].encode() + b"1"))
    changed = verify(path.read_bytes(), ctx=vctx)
    assert not changed.ok
    assert not _by_name(changed.signatures)["CQT/CQT"].intact
    assert changed.content is not None
    assert "HDon/MCCQT" in changed.content.uncovered
    assert "MCCQT" not in dict(changed.content.values)
    done = xmlsec1(path, "--id-attr:Id", "MCCQT", "--node-xpath", CQT_SIGNATURE, *trust)
    assert done.returncode != 0


def test_an_authority_signature_that_does_not_cover_the_code_is_invalid(
    vpki: Pki, vctx: Context
) -> None:
    report = verify(_coded(vpki, content="DLHDon"), ctx=vctx)
    named = _by_name(report.signatures)
    seller, authority = named["seller"], named["CQT/CQT"]
    assert seller.ok
    assert authority.intact  # its digests hold, but over the wrong element
    assert not authority.valid
    assert any("does not cover HDon/MCCQT" in p for p in authority.problems)
    assert report.content is not None
    assert report.content.uncovered == ("HDon/MCCQT",)
    assert not report.ok


def test_a_code_without_the_authority_signature_is_unsigned_content(
    vpki: Pki, vctx: Context
) -> None:
    seller = sign_invoice_xml(invoice_to_xml(invoice()), vpki.rsa.document_signer(),
                              signing_time=WHEN)  # fmt: skip
    report = verify(insert_code(seller, CODE), ctx=vctx)
    (only,) = report.signatures
    assert only.ok
    assert report.content is not None
    assert report.content.uncovered == ("HDon/MCCQT",)
    assert not report.ok
    doubled = etree.fromstring(_coded(vpki))
    second = etree.Element("MCCQT")
    second.text = "00FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF"
    doubled.find("MCCQT").addnext(second)  # type: ignore[union-attr]
    twice = verify(etree.tostring(doubled), ctx=vctx)
    assert not twice.ok
    problems = _by_name(twice.signatures)["CQT/CQT"].problems
    assert any("more than one HDon/MCCQT" in p for p in problems)
