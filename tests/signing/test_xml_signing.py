"""XMLDSig of invoices: the Vietnamese layout, xmlsec1 agrees, tampering is caught, legacy SHA-1."""

from __future__ import annotations

import base64
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from evservice import Context, verify
from evservice.clock import ManualClock
from evservice.errors import DocumentError, SigningError
from evservice.signing import (
    DEV_MARKER,
    dev_key_paths,
    init_dev_keys,
    load_signer,
    sign_invoice_xml,
    sign_xml_element,
    signer_from_files,
)
from evservice.signing._trust import load_certificates

from .conftest import InvoiceDocs, TestPKI

DS = "{http://www.w3.org/2000/09/xmldsig#}"
WHEN = datetime(2026, 11, 1, 2, 30, tzinfo=UTC)


def xmlsec_verify(
    path: Path, pki: TestPKI, id_element: str = "DLHDon"
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            "xmlsec1",
            "--verify",
            "--id-attr:Id",
            id_element,
            "--trusted-pem",
            str(pki.root_pem),
            "--untrusted-pem",
            str(pki.interm_pem),
            "--verification-gmt-time",
            "2026-11-01 03:00:00",
            str(path),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.fixture
def ctx(pki: TestPKI, tmp_path: Path) -> Context:
    return Context(settings=pki.settings(tmp_path / "data"), clock=ManualClock(WHEN))


@pytest.mark.parametrize("kind", ["rsa", "ec"])
def test_xml_signature_has_the_vietnamese_layout_and_xmlsec1_verifies_it(
    kind: str, pki: TestPKI, invoice_docs: InvoiceDocs, tmp_path: Path, ctx: Context
) -> None:
    key, cert = (pki.rsa_key, pki.rsa_cert) if kind == "rsa" else (pki.ec_key, pki.ec_cert)
    signer = signer_from_files(key_pem=key, cert_pem=cert, chain_pem=pki.interm_pem)
    signed = sign_invoice_xml(invoice_docs.xml, signer, signing_time=WHEN)

    root = etree.fromstring(signed)
    sig = root.find(f"DSCKS/NBan/{DS}Signature")
    assert sig is not None
    assert sig.get("Id") == "seller"
    refs = sig.findall(f"{DS}SignedInfo/{DS}Reference")
    assert [r.get("URI") for r in refs] == [
        f"#{invoice_docs.invoice.xml_id}",
        "#seller-SigningTime",
    ]
    transforms = [t.get("Algorithm") for t in refs[0].iter(f"{DS}Transform")]
    assert transforms == [
        "http://www.w3.org/2000/09/xmldsig#enveloped-signature",
        "http://www.w3.org/TR/2001/REC-xml-c14n-20010315",
    ]
    method = sig.find(f"{DS}SignedInfo/{DS}SignatureMethod")
    assert method is not None
    assert method.get("Algorithm", "").endswith("rsa-sha256" if kind == "rsa" else "ecdsa-sha256")
    prop = sig.find(f"{DS}Object/{DS}SignatureProperties/{DS}SignatureProperty")
    assert prop is not None
    assert prop.get("Target") == "#seller"
    assert prop.findtext(f"{DS}SigningTime") == "2026-11-01T09:30:00"  # Vietnam local time
    assert "UID=MST:" in (sig.findtext(f"{DS}KeyInfo/{DS}X509Data/{DS}X509SubjectName") or "")
    assert sig.findtext(f"{DS}KeyInfo/{DS}X509Data/{DS}X509Certificate")
    assert signed.count(b"\n") <= 1  # nothing re-indented: only the XML declaration's line

    path = tmp_path / "signed.xml"
    path.write_bytes(signed)
    done = xmlsec_verify(path, pki)
    assert done.returncode == 0, done.stderr
    assert "SignedInfo References (ok/all): 2/2" in done.stderr

    report = verify(path, ctx=ctx)
    assert report.ok, report.text()
    (status,) = report.signatures
    assert (status.intact, status.valid, status.trusted) == (True, True, True)
    assert status.algorithm == ("RSA-SHA256" if kind == "rsa" else "ECDSA-SHA256")
    assert status.signing_time == WHEN
    assert status.certificate_valid_at_signing is True
    assert [r.ok for r in status.references] == [True, True]
    assert not status.development_key


def test_xmlsec1_rejects_a_changed_amount(
    pki: TestPKI, invoice_docs: InvoiceDocs, tmp_path: Path, ctx: Context
) -> None:
    signer = signer_from_files(key_pem=pki.rsa_key, cert_pem=pki.rsa_cert)
    signed = sign_invoice_xml(invoice_docs.xml, signer, signing_time=WHEN)
    payable = etree.fromstring(signed).findtext("DLHDon/NDHDon/TToan/TgTTTBSo")
    assert payable
    forged = signed.replace(f">{payable}<".encode(), f">{int(payable) - 1}<".encode())
    path = tmp_path / "forged.xml"
    path.write_bytes(forged)
    assert xmlsec_verify(path, pki).returncode != 0
    report = verify(path, ctx=ctx)
    assert not report.ok
    (status,) = report.signatures
    assert not status.intact
    assert [r.ok for r in status.references] == [False, True]  # which reference failed
    assert "digest does not match" in report.text()


def _span(data: bytes, start: bytes, end: bytes) -> tuple[int, int]:
    a = data.index(start)
    return a, data.index(end, a) + len(end)


@pytest.fixture(scope="module")
def signed_xml(pki: TestPKI, invoice_docs: InvoiceDocs) -> bytes:
    signer = signer_from_files(key_pem=pki.ec_key, cert_pem=pki.ec_cert)
    return sign_invoice_xml(invoice_docs.xml, signer, signing_time=WHEN)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    where=st.floats(0, 1, exclude_max=True),
    delta=st.integers(1, 255),
    part=st.sampled_from(["data", "signed-info", "time"]),
)
def test_any_changed_byte_in_signed_content_fails_verification(
    signed_xml: bytes, pki: TestPKI, tmp_path: Path, where: float, delta: int, part: str
) -> None:
    spans = {
        "data": _span(signed_xml, b"<DLHDon", b"</DLHDon>"),
        "signed-info": _span(signed_xml, b"<SignedInfo>", b"</SignedInfo>"),
        "time": _span(signed_xml, b"<Object", b"</Object>"),
    }
    start, end = spans[part]
    position = start + int(where * (end - start))
    tampered = bytearray(signed_xml)
    tampered[position] = (tampered[position] + delta) % 256
    settings_ = pki.settings(tmp_path / "data")
    report = verify(bytes(tampered), ctx=Context(settings=settings_, clock=ManualClock(WHEN)))
    assert not report.ok, (part, position, bytes(tampered[position - 20 : position + 20]))
    assert verify(signed_xml, ctx=Context(settings=settings_, clock=ManualClock(WHEN))).ok


def test_a_signature_over_another_element_signs_nothing(
    pki: TestPKI, invoice_docs: InvoiceDocs, ctx: Context
) -> None:
    """Signature wrapping: the Id moves to a decoy copy; the real data is then unsigned."""
    signer = signer_from_files(key_pem=pki.rsa_key, cert_pem=pki.rsa_cert)
    root = etree.fromstring(sign_invoice_xml(invoice_docs.xml, signer, signing_time=WHEN))
    content = root.find("DLHDon")
    assert content is not None
    decoy = etree.SubElement(root, "Decoy")
    decoy.append(etree.fromstring(etree.tostring(content)))
    del content.attrib["Id"]
    payable = content.find("NDHDon/TToan/TgTTTBSo")
    assert payable is not None
    payable.text = "1"
    report = verify(etree.tostring(root), ctx=ctx)
    assert not report.ok
    assert any("does not cover HDon/DLHDon" in p for s in report.signatures for p in s.problems)


def test_other_issuers_xml_signed_by_xmlsec1_verifies_and_sha1_is_legacy(
    pki: TestPKI, invoice_docs: InvoiceDocs, tmp_path: Path, ctx: Context
) -> None:
    """An invoice signed by another tool (xmlsec1) in the old RSA-SHA1 style."""
    root = etree.fromstring(invoice_docs.xml)
    seller = root.find("DSCKS/NBan")
    assert seller is not None
    template = f"""<Signature xmlns="http://www.w3.org/2000/09/xmldsig#" Id="seller">
<SignedInfo><CanonicalizationMethod Algorithm="http://www.w3.org/TR/2001/REC-xml-c14n-20010315"/>
<SignatureMethod Algorithm="http://www.w3.org/2000/09/xmldsig#rsa-sha1"/>
<Reference URI="#{invoice_docs.invoice.xml_id}"><Transforms>
<Transform Algorithm="http://www.w3.org/2000/09/xmldsig#enveloped-signature"/>
<Transform Algorithm="http://www.w3.org/TR/2001/REC-xml-c14n-20010315"/></Transforms>
<DigestMethod Algorithm="http://www.w3.org/2000/09/xmldsig#sha1"/><DigestValue/></Reference>
</SignedInfo><SignatureValue/><KeyInfo><X509Data><X509Certificate/></X509Data></KeyInfo>
<Object Id="SigningTime"><SignatureProperties><SignatureProperty Target="#seller">
<SigningTime>2023-08-02T09:32:18</SigningTime></SignatureProperty></SignatureProperties></Object>
</Signature>"""
    seller.append(etree.fromstring(template))
    unsigned = tmp_path / "template.xml"
    unsigned.write_bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8"))
    out = tmp_path / "legacy.xml"
    done = subprocess.run(
        [
            "xmlsec1",
            "--sign",
            "--id-attr:Id",
            "DLHDon",
            "--privkey-pem",
            f"{pki.rsa_key},{pki.rsa_cert}",
            "--output",
            str(out),
            str(unsigned),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr

    strict = verify(out, ctx=ctx)
    assert not strict.ok
    (status,) = strict.signatures
    assert status.intact
    assert status.legacy_algorithm
    assert not status.valid
    assert status.algorithm == "RSA-SHA1"
    assert "SHA-1" in strict.text()
    assert any("not covered by the signature" in p for p in status.problems)

    lenient = verify(out, ctx=ctx, allow_legacy=True)
    (status,) = lenient.signatures
    assert status.valid
    assert status.trusted
    assert status.legacy_algorithm
    assert status.signing_time is not None
    assert status.signing_time.year == 2023


def test_untrusted_root_and_expired_certificate_are_reported(
    pki: TestPKI, invoice_docs: InvoiceDocs, tmp_path: Path
) -> None:
    signer = signer_from_files(key_pem=pki.rsa_key, cert_pem=pki.rsa_cert, chain_pem=pki.interm_pem)
    bare = Context(settings=pki.settings(tmp_path / "d1", trust_roots=()), clock=ManualClock(WHEN))
    signed = sign_invoice_xml(invoice_docs.xml, signer, signing_time=WHEN)
    report = verify(signed, ctx=bare)
    (status,) = report.signatures
    assert status.intact
    assert status.valid
    assert not status.trusted
    assert not report.ok
    late = sign_invoice_xml(invoice_docs.xml, signer, signing_time=datetime(2051, 1, 1, tzinfo=UTC))
    (status,) = verify(late, ctx=Context(settings=pki.settings(tmp_path / "d2"))).signatures
    assert status.certificate_valid_at_signing is False


def test_development_key_is_made_once_marked_and_trusted_only_in_dev_mode(
    tmp_path: Path, invoice_docs: InvoiceDocs
) -> None:
    from evservice.config import Settings

    settings_ = Settings(data_dir=tmp_path / "data", _env_file=None)  # type: ignore[call-arg]
    assert init_dev_keys(settings_, clock=ManualClock(WHEN))[1] is True
    signer = load_signer(settings_)
    assert load_signer(settings_) is signer  # loaded once per process and configuration
    assert signer.development
    subject = signer.certificate.subject.rfc4514_string()
    assert DEV_MARKER in subject
    assert "UID=MST:0109999904" in subject
    paths = dev_key_paths(settings_)
    assert paths.exist()
    assert oct(paths.signer_key.stat().st_mode & 0o777) == "0o600"
    root_cert = load_certificates(paths.root_cert)[0]
    assert DEV_MARKER in root_cert.subject.rfc4514_string()
    assert init_dev_keys(settings_)[1] is False  # already there

    signed = sign_invoice_xml(invoice_docs.xml, signer, signing_time=WHEN)
    report = verify(signed, ctx=Context(settings=settings_, clock=ManualClock(WHEN)))
    assert report.ok
    assert report.development_key
    assert "development key" in report.text()
    # a deployment with a real key configured does not trust the dev root
    prod = Settings(
        data_dir=tmp_path / "data",
        signing_key_pem=paths.signer_key,
        signing_cert_pem=paths.signer_cert,
        _env_file=None,
    )  # type: ignore[call-arg]
    (status,) = verify(signed, ctx=Context(settings=prod, clock=ManualClock(WHEN))).signatures
    assert status.valid
    assert not status.trusted


def test_signing_refuses_bad_documents(pki: TestPKI, invoice_docs: InvoiceDocs) -> None:
    signer = signer_from_files(key_pem=pki.rsa_key, cert_pem=pki.rsa_cert)
    signed = sign_invoice_xml(invoice_docs.xml, signer, signing_time=WHEN)
    with pytest.raises(SigningError, match="already"):
        sign_invoice_xml(signed, signer, signing_time=WHEN)
    with pytest.raises(DocumentError, match="DLHDon"):
        sign_invoice_xml(b"<HDon><X/></HDon>", signer, signing_time=WHEN)
    with pytest.raises(DocumentError, match="DOCTYPE"):
        sign_invoice_xml(b"<!DOCTYPE HDon []><HDon/>", signer, signing_time=WHEN)
    with pytest.raises(DocumentError):
        sign_invoice_xml(b"<HDon", signer, signing_time=WHEN)


def test_verify_never_raises_for_junk(ctx: Context) -> None:
    for junk in (b"", b"hello", b"<HDon/>", b"%PDF-1.7 garbage", b"<a><b></a>", bytes(range(256))):
        report = verify(junk, ctx=ctx)
        assert not report.ok
        assert report.to_json()


def test_signature_value_is_base64_of_the_raw_signature(
    pki: TestPKI, invoice_docs: InvoiceDocs
) -> None:
    """ECDSA values are r||s (64 bytes on P-256), as XMLDSig wants, not DER."""
    signer = signer_from_files(key_pem=pki.ec_key, cert_pem=pki.ec_cert)
    root = etree.fromstring(sign_invoice_xml(invoice_docs.xml, signer, signing_time=WHEN))
    value = root.findtext(f".//{DS}SignatureValue")
    assert value is not None
    assert len(base64.b64decode(value)) == 64


def test_another_message_is_signed_by_id_into_its_own_slot(pki: TestPKI, tmp_path: Path) -> None:
    """sign_xml_element: any root child with an Id, any DSCKS slot; xmlsec1 agrees."""
    signer = signer_from_files(key_pem=pki.rsa_key, cert_pem=pki.rsa_cert, chain_pem=pki.interm_pem)
    xml = b'<BTHDLieu><DLBTHop Id="BTH1"><TTChung><PBan>2.1.0</PBan></TTChung></DLBTHop></BTHDLieu>'
    signed = sign_xml_element(xml, signer, content="DLBTHop", slot="NNT", signing_time=WHEN)
    root = etree.fromstring(signed)
    sig = root.find(f"DSCKS/NNT/{DS}Signature")
    assert sig is not None
    assert sig.find(f"{DS}SignedInfo/{DS}Reference").get("URI") == "#BTH1"
    path = tmp_path / "bth.xml"
    path.write_bytes(signed)
    done = xmlsec_verify(path, pki, "DLBTHop")
    assert done.returncode == 0, done.stderr
    path.write_bytes(signed.replace(b">2.1.0<", b">2.1.1<"))
    assert xmlsec_verify(path, pki, "DLBTHop").returncode != 0
    with pytest.raises(SigningError, match="DSCKS/NNT"):
        sign_xml_element(signed, signer, content="DLBTHop", slot="NNT", signing_time=WHEN)
    with pytest.raises(DocumentError, match="BTHDLieu/DLBTHop"):
        sign_xml_element(b"<BTHDLieu/>", signer, content="DLBTHop", slot="NNT", signing_time=WHEN)
