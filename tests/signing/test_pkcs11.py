"""Signing with a key that never leaves a PKCS#11 token (SoftHSM2), XML and PDF alike."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from evservice import Context, verify
from evservice.clock import ManualClock
from evservice.errors import ConfigurationError
from evservice.signing import load_signer, sign_invoice_xml, sign_pdf

from .conftest import InvoiceDocs, TestPKI

MODULE = Path("/usr/lib/softhsm/libsofthsm2.so")
TOKEN = "evs-test-token"
LABEL = "seller-key"
PIN = "123456"


@pytest.fixture(scope="module")
def softhsm(pki: TestPKI, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A fresh SoftHSM token holding the RSA signer's key and certificate."""
    base = tmp_path_factory.mktemp("softhsm")
    (base / "tokens").mkdir()
    conf = base / "softhsm2.conf"
    conf.write_text(f"directories.tokendir = {base / 'tokens'}\nobjectstore.backend = file\n")
    old = os.environ.get("SOFTHSM2_CONF")
    os.environ["SOFTHSM2_CONF"] = str(conf)
    env = dict(os.environ)

    def run(*args: str) -> None:
        subprocess.run(args, check=True, capture_output=True, env=env, timeout=60)

    run(
        "softhsm2-util",
        "--init-token",
        "--free",
        "--label",
        TOKEN,
        "--pin",
        PIN,
        "--so-pin",
        "654321",
    )
    run(
        "softhsm2-util", "--import", str(pki.rsa_key), "--token", TOKEN,
        "--label", LABEL, "--id", "01", "--pin", PIN,
    )  # fmt: skip
    _store_certificate(pki.rsa_cert)
    yield base
    if old is None:
        os.environ.pop("SOFTHSM2_CONF", None)
    else:
        os.environ["SOFTHSM2_CONF"] = old


def _store_certificate(cert_pem: Path) -> None:
    """Put the signer's certificate on the token next to its key (same label and id)."""
    import pkcs11
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import Encoding
    from pkcs11 import Attribute, CertificateType, ObjectClass

    cert = x509.load_pem_x509_certificate(cert_pem.read_bytes())
    token = pkcs11.lib(str(MODULE)).get_token(token_label=TOKEN)
    with token.open(rw=True, user_pin=PIN) as session:
        session.create_object(
            {
                Attribute.CLASS: ObjectClass.CERTIFICATE,
                Attribute.CERTIFICATE_TYPE: CertificateType.X_509,
                Attribute.TOKEN: True,
                Attribute.LABEL: LABEL,
                Attribute.ID: b"\x01",
                Attribute.SUBJECT: cert.subject.public_bytes(),
                Attribute.VALUE: cert.public_bytes(Encoding.DER),
            }
        )


def test_xml_and_pdf_are_signed_on_the_token(
    softhsm: Path, pki: TestPKI, invoice_docs: InvoiceDocs, tmp_path: Path, now_clock: ManualClock
) -> None:
    settings_ = pki.settings(
        tmp_path / "data",
        signing_pkcs12=None,
        pkcs11_module=MODULE,
        pkcs11_token_label=TOKEN,
        pkcs11_key_label=LABEL,
        pkcs11_pin=PIN,
    )
    signer = load_signer(settings_)
    assert type(signer.signer).__name__ == "PKCS11Signer"  # pyHanko's own, passed through
    assert load_signer(settings_) is signer
    assert "PKCS#11" in signer.description
    when = now_clock.now()
    xml = sign_invoice_xml(invoice_docs.xml, signer, signing_time=when)
    pdf = sign_pdf(
        invoice_docs.pdf, signer, signing_time=when, box=invoice_docs.box, embedded_xml=xml
    )
    xml_path, pdf_path = tmp_path / "hsm.xml", tmp_path / "hsm.pdf"
    xml_path.write_bytes(xml)
    pdf_path.write_bytes(pdf)

    done = subprocess.run(
        ["xmlsec1", "--verify", "--id-attr:Id", "DLHDon", "--trusted-pem", str(pki.root_pem),
         "--untrusted-pem", str(pki.interm_pem), str(xml_path)],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    out = subprocess.run(
        ["pdfsig", "-no-ocsp", str(pdf_path)], capture_output=True, text=True, timeout=60
    ).stdout
    assert "Signature is Valid." in out

    ctx = Context(settings=settings_, clock=now_clock)
    for path in (xml_path, pdf_path):
        report = verify(path, ctx=ctx)
        assert report.ok, report.text()


def test_a_wrong_pin_is_a_configuration_error_without_the_pin(
    softhsm: Path, pki: TestPKI, tmp_path: Path
) -> None:
    settings_ = pki.settings(
        tmp_path / "data",
        signing_pkcs12=None,
        pkcs11_module=MODULE,
        pkcs11_token_label=TOKEN,
        pkcs11_key_label=LABEL,
        pkcs11_pin="000000",
    )
    with pytest.raises(ConfigurationError) as info:
        load_signer(settings_)
    assert "000000" not in str(info.value)
