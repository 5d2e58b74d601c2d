"""A small PKI made once per session (root, RSA-2048, RSA-1024 and ECDSA signers), invoices
to sign, and helpers to build other issuers' signatures and to ask ``xmlsec1``."""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from evservice import Context
from evservice.clock import ManualClock
from evservice.config import Settings
from evservice.invoices import Invoice, InvoiceDraft
from evservice.signing import (
    DocumentSigner,
    clear_signer_cache,
    sign_invoice_xml,
    sign_pdf,
    signer_from_key,
)

WHEN = datetime(2026, 11, 1, 2, 30, tzinfo=UTC)
SELLER_TAX_CODE = "0100100079"

Key = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey


@dataclass(frozen=True)
class Signer:
    key: Key
    cert: x509.Certificate
    key_pem: Path
    cert_pem: Path

    def document_signer(self) -> DocumentSigner:
        return signer_from_key(self.key, self.cert)


@dataclass(frozen=True)
class Pki:
    dir: Path
    root: x509.Certificate
    root_pem: Path
    rsa: Signer
    rsa1024: Signer
    ec: Signer


def _name(common: str, uid: str | None = None) -> x509.Name:
    parts = [x509.NameAttribute(NameOID.COUNTRY_NAME, "VN")]
    parts.append(x509.NameAttribute(NameOID.COMMON_NAME, common))
    if uid:
        parts.append(x509.NameAttribute(NameOID.USER_ID, uid))
    return x509.Name(parts)


def _cert(
    subject: x509.Name, key: Key, issuer: x509.Name, issuer_key: Key, *, ca: bool
) -> x509.Certificate:
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(datetime(2020, 1, 1, tzinfo=UTC))
        .not_valid_after(datetime(2050, 1, 1, tzinfo=UTC))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True, content_commitment=not ca, key_encipherment=False,
                data_encipherment=False, key_agreement=False, key_cert_sign=ca, crl_sign=ca,
                encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )
    )  # fmt: skip
    return builder.sign(issuer_key, hashes.SHA256())


def _write(base: Path, label: str, key: Key, cert: x509.Certificate) -> Signer:
    key_pem, cert_pem = base / f"{label}.key.pem", base / f"{label}.cert.pem"
    key_pem.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    cert_pem.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return Signer(key, cert, key_pem, cert_pem)


@pytest.fixture(scope="session")
def vpki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    base = tmp_path_factory.mktemp("vpki")
    root_key = ec.generate_private_key(ec.SECP256R1())
    root_name = _name("evservice Verification Test Root")
    root = _cert(root_name, root_key, root_name, root_key, ca=True)
    root_pem = base / "root.pem"
    root_pem.write_bytes(root.public_bytes(serialization.Encoding.PEM))
    signers: dict[str, Signer] = {}
    for label, key in (
        ("rsa", rsa.generate_private_key(public_exponent=65537, key_size=2048)),
        ("rsa1024", rsa.generate_private_key(public_exponent=65537, key_size=1024)),  # noqa: S505 - the weak key the policy must refuse
        ("ec", ec.generate_private_key(ec.SECP256R1())),
    ):
        subject = _name(f"Công ty thử nghiệm {label}", f"MST:{SELLER_TAX_CODE}")
        signers[label] = _write(
            base, label, key, _cert(subject, key, root_name, root_key, ca=False)
        )
    return Pki(base, root, root_pem, signers["rsa"], signers["rsa1024"], signers["ec"])


@pytest.fixture(autouse=True)
def _fresh_signers() -> Any:
    clear_signer_cache()
    yield
    clear_signer_cache()


@pytest.fixture
def vctx(vpki: Pki, tmp_path: Path) -> Context:
    """Trusts the session root only; the clock at the signing time."""
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None,
        data_dir=tmp_path / "data",
        database_url=f"sqlite:///{tmp_path / 'store.db'}",
        trust_roots=(vpki.root_pem,),
    )
    return Context(settings=settings, clock=ManualClock(WHEN))


def invoice(lines: Sequence[dict[str, str]] | None = None, number: int = 42) -> Invoice:
    draft = InvoiceDraft.model_validate(
        {
            "series": "C26TAA",
            "issue_date": date(2026, 10, 31),
            "seller": {
                "name": "Công ty Điện lực Hải Dương",
                "tax_code": SELLER_TAX_CODE,
                "address": "Số 33 Đại lộ Hồ Chí Minh, Hải Dương",
            },
            "buyer": {"person_name": "Nguyễn Thị Ánh Tuyết", "address": "Hải Dương"},
            "lines": list(
                lines
                or [
                    {"name": "Điện bậc 1", "unit": "kWh", "quantity": "50",
                     "unit_price": "1984", "vat_rate": "8%"},
                    {"name": "Điện bậc 2", "unit": "kWh", "quantity": "77",
                     "unit_price": "2050", "vat_rate": "8%"},
                ]
            ),
        }
    )  # fmt: skip
    return Invoice(
        id=uuid.UUID(int=number),
        draft=draft,
        number=number,
        lookup_code="ABCD2345EFGH",
        issued_at=datetime(2026, 10, 31, 3, 0, tzinfo=UTC),
    )


def xmlsec1(path: Path, *options: str) -> subprocess.CompletedProcess[str]:
    """``xmlsec1 --verify`` with ``DLHDon``'s Id registered; ``options`` say what to trust."""
    return subprocess.run(
        ["xmlsec1", "--verify", "--id-attr:Id", "DLHDon", *options, str(path)],
        capture_output=True,
        text=True,
        timeout=60,
    )


def xmlsec1_sign(template: Path, out: Path, signer: Signer) -> None:
    done = subprocess.run(
        [
            "xmlsec1", "--sign", "--id-attr:Id", "DLHDon",
            "--privkey-pem", f"{signer.key_pem},{signer.cert_pem}",
            "--output", str(out), str(template),
        ],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr


@dataclass(frozen=True)
class SignedDocs:
    xml: bytes
    pdf: bytes


@pytest.fixture(scope="session")
def signed_docs(vpki: Pki) -> SignedDocs:
    """Our invoice, its XML and PDF signed with the session's RSA signer."""
    from evservice.invoices import invoice_to_xml, render_invoice_pdf

    clear_signer_cache()
    signer = vpki.rsa.document_signer()
    bill = invoice()
    xml = sign_invoice_xml(invoice_to_xml(bill), signer, signing_time=WHEN)
    rendered = render_invoice_pdf(bill)
    pdf = sign_pdf(
        rendered.pdf, signer, signing_time=WHEN, box=rendered.signature_box, embedded_xml=xml
    )
    return SignedDocs(xml, pdf)
