"""Every verdict of ours against ``xmlsec1 --verify`` on the same bytes.

Our files and hand-built files in other issuers' styles: xmlsec1's cryptographic
verdict (``--insecure``: KeyInfo's certificate, chain not checked) must equal our
cryptographic result, and with the root trusted (``--trusted-pem``) its verdict must
equal "cryptographic result and trust result" where OpenSSL accepts the key. Policy
(SHA-1, short RSA keys) is ours alone and is asserted per case. signxml, a third
implementation, must agree too wherever it can read the layout.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from lxml import etree
from signxml import InvalidInput, InvalidSignature, SignatureConfiguration, XMLVerifier

from evservice import Context, verify
from evservice.invoices import invoice_to_xml
from evservice.signing import sign_invoice_xml

from . import _build as b
from .conftest import WHEN, Pki, invoice, xmlsec1

SHA1 = "http://www.w3.org/2000/09/xmldsig#sha1"
RSA_SHA1 = "http://www.w3.org/2000/09/xmldsig#rsa-sha1"
DOTNET = "matches only .NET's non-standard enveloped transform"


@dataclass(frozen=True)
class Case:
    build: Callable[[Pki, Path], bytes]
    cryptographic: bool
    policy: bool = True
    trusted: bool = True
    ok: bool | None = None  # the whole verdict, when it differs from all three together
    statuses: tuple[str, ...] | None = None  # each Reference's status
    openssl_accepts_key: bool = True
    signxml: bool = True  # signxml can read the layout
    signer: str = "rsa"


def _ours(pki: Pki, tmp: Path, kind: str = "rsa") -> bytes:
    signer = getattr(pki, kind).document_signer()
    return sign_invoice_xml(invoice_to_xml(invoice()), signer, signing_time=WHEN)


def _changed_amount(pki: Pki, tmp: Path) -> bytes:
    signed = _ours(pki, tmp)
    return re.sub(rb"<TgTTTBSo>(\d)", rb"<TgTTTBSo>9\1", signed)


def _comment_in_total(pki: Pki, tmp: Path) -> bytes:
    signed = _ours(pki, tmp)
    return re.sub(rb"<TgTTTBSo>(\d\d)", rb"<TgTTTBSo>\1<!-- 0 -->", signed)


def _second_content(pki: Pki, tmp: Path) -> bytes:
    signed = _ours(pki, tmp)
    return signed.replace(
        b"<DSCKS>", b"<DLHDon><TToan><TgTTTBSo>1</TgTTTBSo></TToan></DLHDon><DSCKS>"
    )


def _flipped_value(pki: Pki, tmp: Path) -> bytes:
    signed = _ours(pki, tmp)
    start = signed.index(b"<SignatureValue>") + len(b"<SignatureValue>")
    char = b"B" if signed[start + 10 : start + 11] != b"B" else b"C"
    return signed[: start + 10] + char + signed[start + 11 :]


def _xmlsec1(
    references: list[tuple[str, list[str]]], **options: str
) -> Callable[[Pki, Path], bytes]:
    def build(pki: Pki, tmp: Path) -> bytes:
        unsigned = invoice_to_xml(invoice())
        if options.pop("comment", None):
            unsigned = unsigned.replace(b"<NDHDon>", b"<NDHDon><!--issuer note-->")
        data = b.template(unsigned, references, **options)
        return b.xmlsec1_signed(tmp, "third-party", data, pki.rsa)

    return build


CONTENT = f"#{invoice().xml_id}"
SPEC_OBJECT = [(CONTENT, [b.ENVELOPED, b.C14N]), ("#SigningTime", [b.ENVELOPED, b.C14N])]


def _dotnet(pki: Pki, tmp: Path) -> bytes:
    return b.dotnet_resigned(_xmlsec1(SPEC_OBJECT)(pki, tmp), pki.rsa)


CASES: dict[str, Case] = {
    "ours-rsa": Case(lambda p, t: _ours(p, t, "rsa"), True),
    "ours-ecdsa": Case(lambda p, t: _ours(p, t, "ec"), True, signer="ec"),
    "ours-rsa-1024": Case(
        lambda p, t: _ours(p, t, "rsa1024"),
        True,
        policy=False,
        openssl_accepts_key=False,
        signer="rsa1024",
    ),
    "ours-changed-amount": Case(_changed_amount, False, statuses=("fail", "pass")),
    "ours-signature-value-changed": Case(_flipped_value, False),
    "ours-comment-in-signed-total": Case(_comment_in_total, True, ok=False),
    "ours-second-unsigned-DLHDon": Case(_second_content, True, ok=False),
    "third-party-sha1": Case(
        _xmlsec1([(CONTENT, [b.ENVELOPED, b.C14N])], method=RSA_SHA1, digest=SHA1),
        True,
        policy=False,
    ),
    "third-party-object-enveloped-spec": Case(
        _xmlsec1(SPEC_OBJECT), True, statuses=("pass", "pass"), signxml=False
    ),
    "third-party-object-enveloped-dotnet": Case(
        _dotnet, False, statuses=("pass", DOTNET), signxml=False
    ),
    "third-party-exc-c14n-with-comments": Case(
        _xmlsec1([(CONTENT, [b.ENVELOPED, b.EXC + "WithComments"])], c14n=b.EXC, comment="1"),
        True,
        ok=False,  # the comment is not signed (a bare-name reference drops comments)
    ),
    "third-party-whole-document": Case(_xmlsec1([("", [b.ENVELOPED, b.C14N])]), True),
}


class _SignxmlVerifier(XMLVerifier):
    # libxml2's C14N of a subtree undeclares an inherited default namespace with
    # xmlns="" (not what C14N says); signxml's own switch removes those again.
    excise_empty_xmlns_declarations = True


def _signxml_verdict(data: bytes, cert_pem: Path, references: int) -> bool:
    """signxml's verdict with the signer's certificate given (its chain is ours to judge)."""
    config = SignatureConfiguration(expect_references=references, ignore_ambiguous_key_info=True)
    try:
        _SignxmlVerifier().verify(
            data,
            x509_cert=cert_pem.read_text(),
            validate_schema=False,  # SigningTime sits in the ds namespace, as the format has it
            id_attribute="Id",
            expect_config=config,
        )
    except (InvalidSignature, InvalidInput):
        return False
    return True


@pytest.mark.parametrize("name", list(CASES))
def test_our_verdicts_agree_with_xmlsec1(
    name: str, vpki: Pki, tmp_path: Path, vctx: Context
) -> None:
    case = CASES[name]
    data = case.build(vpki, tmp_path)
    path = tmp_path / "file.xml"
    path.write_bytes(data)
    report = verify(path, ctx=vctx)
    (sig,) = report.signatures
    crypto = xmlsec1(path, "--insecure")
    assert (crypto.returncode == 0) == case.cryptographic, crypto.stderr
    assert sig.cryptographic_ok is case.cryptographic, report.text()
    assert sig.policy_ok is case.policy, report.text()
    assert sig.trusted is case.trusted, report.text()
    if case.openssl_accepts_key:
        trusted = xmlsec1(path, "--trusted-pem", str(vpki.root_pem))
        assert (trusted.returncode == 0) == (sig.cryptographic_ok and sig.trusted), trusted.stderr
    expected_ok = case.cryptographic and case.policy and case.trusted
    assert report.ok is (expected_ok if case.ok is None else case.ok), report.text()
    text = report.text()
    assert f"cryptographic result: {'pass' if case.cryptographic else 'FAIL'}" in text
    assert ("policy result: accepted" in text) is case.policy
    if case.statuses is not None:
        assert tuple(r.status for r in sig.references) == case.statuses
        if DOTNET in case.statuses:
            assert f"FAIL: {DOTNET}" in text
            assert "DOTNET_ENVELOPED_ONLY" in sig.summary()
    assert all(r.status != "pass" or r.ok for r in sig.references)
    assert not any(r.ok for r in sig.references if r.status == DOTNET)


@pytest.mark.parametrize("name", [n for n, c in CASES.items() if c.signxml and c.policy])
def test_signxml_agrees_on_the_cryptography(name: str, vpki: Pki, tmp_path: Path) -> None:
    """signxml (an independent implementation) on the layouts it reads."""
    case = CASES[name]
    data = case.build(vpki, tmp_path)
    root = etree.fromstring(data)
    references = len(root.findall(".//{http://www.w3.org/2000/09/xmldsig#}Reference"))
    cert_pem = getattr(vpki, case.signer).cert_pem
    assert _signxml_verdict(data, cert_pem, references) is case.cryptographic


@pytest.mark.parametrize("name", [n for n, c in CASES.items() if not c.signxml])
def test_signxml_reads_an_enveloped_object_reference_as_dotnet_does(
    name: str, vpki: Pki, tmp_path: Path
) -> None:
    """Where the target of an enveloped transform lies inside the Signature, signxml
    digests the Object (as .NET does): the opposite of xmlsec1, the spec and us."""
    case = CASES[name]
    data = case.build(vpki, tmp_path)
    assert _signxml_verdict(data, vpki.rsa.cert_pem, 2) is not case.cryptographic
