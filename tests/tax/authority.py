"""A test tax authority: its own root CA and signing certificate, and the 202 it answers.

The authority answers an invoice sent for a code (message 200) with message 202:
the same ``HDon`` with ``MCCQT[@Id]`` after ``DLHDon`` and its signature in
``DSCKS/CQT`` over ``HDon/MCCQT`` and its own ``SigningTime`` (the format's
``DSCKS``: "ký trên thẻ HDon\\MCCQT và thẻ ...\\CQT\\Object\\SignatureProperties").
The keys are made once per session with ``cryptography``; the signature is made by
:func:`evservice.signing.sign_xml_element`, the slot moved to the end of ``DSCKS``
(after ``NBan``, where the format puts it).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from lxml import etree

from evservice.signing import DocumentSigner, sign_xml_element, signer_from_files
from evservice.tax import insert_code

AUTHORITY_TAX_CODE = "0100231226"  # the General Department of Taxation's own MST


@dataclass(frozen=True)
class Authority:
    root_pem: Path
    cert_pem: Path
    key_pem: Path

    def signer(self) -> DocumentSigner:
        return signer_from_files(key_pem=self.key_pem, cert_pem=self.cert_pem)


def _name(common: str, uid: str | None = None) -> x509.Name:
    parts = [
        x509.NameAttribute(NameOID.COUNTRY_NAME, "VN"),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Tổng cục Thuế (thử nghiệm)"),
        x509.NameAttribute(NameOID.COMMON_NAME, common),
    ]
    if uid:
        parts.append(x509.NameAttribute(NameOID.USER_ID, uid))
    return x509.Name(parts)


def _usage(ca: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=True, content_commitment=not ca, key_encipherment=False,
        data_encipherment=False, key_agreement=False, key_cert_sign=ca, crl_sign=ca,
        encipher_only=False, decipher_only=False,
    )  # fmt: skip


def _cert(
    subject: x509.Name, issuer: x509.Name, key: ec.EllipticCurvePrivateKey,
    signing_key: ec.EllipticCurvePrivateKey, ca: bool,
) -> x509.Certificate:  # fmt: skip
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(datetime(2020, 1, 1, tzinfo=UTC))
        .not_valid_after(datetime(2050, 1, 1, tzinfo=UTC))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .add_extension(_usage(ca), critical=True)
        .sign(signing_key, hashes.SHA256())
    )


def make_authority(folder: Path) -> Authority:
    """A root CA and the authority's signing certificate under it, as PEM files in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    root_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    root_name = _name("Tổng cục Thuế Test Root CA")
    root = _cert(root_name, root_name, root_key, root_key, ca=True)
    leaf_name = _name("TỔNG CỤC THUẾ (thử nghiệm)", f"MST:{AUTHORITY_TAX_CODE}")
    leaf = _cert(leaf_name, root_name, key, root_key, ca=False)
    pem = serialization.Encoding.PEM
    paths = Authority(folder / "root.pem", folder / "cqt.pem", folder / "cqt.key.pem")
    paths.root_pem.write_bytes(root.public_bytes(pem))
    paths.cert_pem.write_bytes(leaf.public_bytes(pem))
    paths.key_pem.write_bytes(
        key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return paths


def code_invoice(invoice: bytes, code: str, signer: DocumentSigner, when: datetime) -> bytes:
    """The authority's coded ``HDon``: ``MCCQT`` put in and signed into ``DSCKS/CQT``."""
    coded = insert_code(invoice, code)
    signed = sign_xml_element(
        coded, signer, content="MCCQT", slot="CQT", signing_time=when, signature_id="CQT"
    )
    root = etree.fromstring(signed)
    slot = root.find("DSCKS/CQT")
    assert slot is not None
    slot.getparent().append(slot)  # type: ignore[union-attr]  # after NBan: no digest changes
    return bytes(etree.tostring(root, encoding="UTF-8"))


def new_code() -> str:
    """A fresh 34-character MCCQT-like code (upper-case hex)."""
    return ("00" + uuid.uuid4().hex + uuid.uuid4().hex).upper()[:34]
