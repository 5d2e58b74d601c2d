"""The signed content: other issuers' incomplete files, VAT rounding, values from the signed
bytes only, and what no signature covers."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evservice import Context, verify
from evservice.errors import ValidationError
from evservice.invoices import invoice_to_xml, parse_invoice_xml
from evservice.signing import sign_invoice_xml

from .conftest import WHEN, Pki, invoice

FIVES = [{"name": "Cước", "quantity": "1", "unit_price": "5", "vat_rate": "10%"}] * 3


def _sign(vpki: Pki, xml: bytes) -> bytes:
    return sign_invoice_xml(xml, vpki.rsa.document_signer(), signing_time=WHEN)


def _values(report_values: tuple[tuple[str, str], ...]) -> dict[str, str]:
    return dict(report_values)


def test_a_file_without_mandatory_totals_still_has_its_signature_checked(
    vpki: Pki, vctx: Context
) -> None:
    unsigned = re.sub(
        rb"<TgTCThue>\d+</TgTCThue><TgTThue>\d+</TgTThue>", b"", invoice_to_xml(invoice())
    )
    with pytest.raises(ValidationError) as refused:
        parse_invoice_xml(unsigned, strict=True)
    assert refused.value.field == "NDHDon.TToan.TgTCThue"
    lenient = parse_invoice_xml(unsigned, strict=False)
    assert lenient.missing == ("NDHDon.TToan.TgTCThue", "NDHDon.TToan.TgTThue")

    report = verify(_sign(vpki, unsigned), ctx=vctx)
    (sig,) = report.signatures
    assert sig.ok, report.text()
    assert report.content is not None
    assert report.content.findings == (
        "NDHDon.TToan.TgTCThue is missing (mandatory)",
        "NDHDon.TToan.TgTThue is missing (mandatory)",
    )
    assert not report.ok
    assert "finding: NDHDon.TToan.TgTCThue is missing" in report.text()
    assert report.to_dict()["content"]["findings"]


def _retaxed(xml: bytes, group_tax: int, total_tax: int) -> bytes:
    xml = re.sub(
        rb"(<LTSuat><TSuat>10%</TSuat><ThTien>15</ThTien><TThue>)\d+", rb"\g<1>%d" % group_tax, xml
    )
    xml = re.sub(rb"<TgTThue>\d+</TgTThue>", b"<TgTThue>%d</TgTThue>" % total_tax, xml)
    return re.sub(rb"<TgTTTBSo>\d+</TgTTTBSo>", b"<TgTTTBSo>%d</TgTTTBSo>" % (15 + total_tax), xml)


@pytest.mark.parametrize(
    ("group_tax", "rule", "finding"),
    [
        (2, "per rate group", None),  # round(15 x 10%) = 2 (ours)
        (3, "per line", None),  # 3 x round(0.5) = 3 (another issuer's)
        (4, None, "LTSuat[10%].TThue = 4: neither rounding per line (3) nor per rate group (2)"),
    ],
)
def test_vat_rounded_per_line_or_per_rate_group_is_accepted_and_named(
    vpki: Pki, vctx: Context, group_tax: int, rule: str | None, finding: str | None
) -> None:
    xml = _retaxed(invoice_to_xml(invoice(FIVES)), group_tax, group_tax)
    report = verify(_sign(vpki, xml), ctx=vctx)
    assert report.content is not None
    assert report.content.rounding == rule
    if finding is None:
        assert report.ok, report.text()
        assert report.content.findings == ()
        assert f"VAT rounding: {rule}" in report.text()
    else:
        assert not report.ok
        assert any(f.startswith(finding) for f in report.content.findings), report.content


def test_a_total_tax_that_disagrees_with_its_groups_is_a_finding(vpki: Pki, vctx: Context) -> None:
    xml = _retaxed(invoice_to_xml(invoice(FIVES)), 2, 3)
    report = verify(_sign(vpki, xml), ctx=vctx)
    assert report.content is not None
    assert any(f.startswith("TgTThue = 3") for f in report.content.findings)


@settings(max_examples=25, deadline=None)
@given(
    amounts=st.lists(st.integers(1, 10_000_000), min_size=1, max_size=6),
    rate=st.sampled_from(["5%", "8%", "10%"]),
)
def test_our_own_invoices_always_add_up(amounts: list[int], rate: str) -> None:
    """What our writer produces is explained by one of the rules (it rounds per group)."""
    from evservice.verification._content import totals_findings

    lines = [{"name": "x", "amount": str(a), "vat_rate": rate} for a in amounts]
    parsed = parse_invoice_xml(invoice_to_xml(invoice(lines)), strict=False)
    rule, findings = totals_findings(parsed)
    assert findings == []
    assert rule is not None
    assert "per rate group" in rule


def test_the_values_reported_are_the_signed_ones(vpki: Pki, vctx: Context) -> None:
    signed = _sign(vpki, invoice_to_xml(invoice()))
    payable = re.search(rb"<TgTTTBSo>(\d+)</TgTTTBSo>", signed)
    assert payable is not None
    decoy = b"<DLHDon><NDHDon><TToan><TgTTTBSo>1</TgTTTBSo></TToan></NDHDon></DLHDon>"
    for forged in (
        signed.replace(b"<DLHDon ", decoy + b"<DLHDon ", 1),  # an unsigned one first
        signed.replace(b"<DSCKS>", decoy + b"<DSCKS>"),  # or after
    ):
        report = verify(forged, ctx=vctx)
        assert not report.ok
        assert report.content is not None
        assert any("DLHDon" in u for u in report.content.uncovered), report.text()
        values = _values(report.content.values)
        assert values["NDHDon.TToan.TgTTTBSo"] == payable.group(1).decode()
        assert "NOT SIGNED: HDon/DLHDon" in report.text()


def test_a_comment_splitting_a_signed_total_is_named_and_the_signed_value_reported(
    vpki: Pki, vctx: Context
) -> None:
    signed = _sign(vpki, invoice_to_xml(invoice()))
    payable = re.search(rb"<TgTTTBSo>(\d+)</TgTTTBSo>", signed)
    assert payable is not None
    digits = payable.group(1)
    split = signed.replace(
        payable.group(0), b"<TgTTTBSo>" + digits[:2] + b"<!--0-->" + digits[2:] + b"</TgTTTBSo>"
    )
    report = verify(split, ctx=vctx)
    (sig,) = report.signatures
    assert sig.cryptographic_ok  # comments are outside the digest, as XMLDSig says
    assert not report.ok
    assert report.content is not None
    assert report.content.uncovered == (
        "a comment inside HDon/DLHDon (in TgTTTBSo): comments are not signed",
    )
    assert _values(report.content.values)["NDHDon.TToan.TgTTTBSo"] == digits.decode()


@pytest.mark.parametrize(
    ("change", "named"),
    [
        (lambda x: x.replace(b"<DSCKS>", b"<DSCKS>note"), "text 'note' in HDon/DSCKS"),
        (lambda x: x.replace(b"</DLHDon>", b"</DLHDon><Extra/>"), "HDon/Extra"),
        (lambda x: x.replace(b"<NMua/>", b"<NMua><X/></NMua>"), "HDon/DSCKS/NMua/X"),
        (lambda x: x.replace(b"<HDon>", b"<HDon Ver='2'>"), "attribute 'Ver' of HDon"),
        (lambda x: x.replace(b"<HDon>", b"<!--x--><HDon>"), "comment() outside the root"),
        (lambda x: x.replace(b"</DLHDon>", b"</DLHDon>\n  \n"), None),  # whitespace is fine
    ],
)
def test_anything_outside_the_signatures_but_whitespace_is_named(
    vpki: Pki, vctx: Context, change: object, named: str | None
) -> None:
    signed = _sign(vpki, invoice_to_xml(invoice()))
    report = verify(change(signed), ctx=vctx)  # type: ignore[operator]
    assert report.content is not None
    if named is None:
        assert report.ok, report.text()
    else:
        assert not report.ok
        assert any(named in u for u in report.content.uncovered), report.content.uncovered
