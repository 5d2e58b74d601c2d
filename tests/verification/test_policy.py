"""Policy apart from cryptography: a 1024-bit RSA key is legacy in the PDF and the XML alike."""

from __future__ import annotations

from evservice import Context, verify
from evservice.invoices import invoice_to_xml, render_invoice_pdf
from evservice.signing import sign_invoice_xml, sign_pdf

from .conftest import WHEN, Pki, invoice


def test_a_1024_bit_rsa_key_is_refused_by_policy_not_by_cryptography(
    vpki: Pki, vctx: Context
) -> None:
    signer = vpki.rsa1024.document_signer()
    bill = invoice()
    xml = sign_invoice_xml(invoice_to_xml(bill), signer, signing_time=WHEN)
    rendered = render_invoice_pdf(bill)
    pdf = sign_pdf(
        rendered.pdf, signer, signing_time=WHEN, box=rendered.signature_box, embedded_xml=xml
    )
    strict = verify(pdf, ctx=vctx)
    assert not strict.ok
    assert strict.embedded_xml is not None
    for sig in (*strict.signatures, *strict.embedded_xml.signatures):
        assert sig.cryptographic_ok, sig.text()
        assert sig.trusted, sig.trust_detail
        assert not sig.policy_ok
        assert any("RSA key of 1024 bits" in p for p in sig.policy_problems)
        assert sig.key == "RSA 1024 bits"
        assert "policy result: REFUSED (RSA key of 1024 bits" in sig.text()
        assert "REFUSED_BY_POLICY" in sig.summary()
    assert strict.cryptographic_ok
    assert not strict.policy_ok
    assert strict.to_dict()["policy_ok"] is False

    lenient = verify(pdf, ctx=vctx, allow_legacy=True)
    assert lenient.ok, lenient.text()
    assert all(s.legacy_algorithm for s in lenient.signatures)
