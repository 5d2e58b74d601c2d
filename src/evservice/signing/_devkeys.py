"""The development signing key: a throw-away root and a signer, made on first use.

The embedded default needs no configuration, so when no key is configured
:func:`load_signer` signs with a key made here under ``settings.keys_dir``. Both
certificate subjects say ``DEVELOPMENT ONLY`` (in O, OU and CN) and carry
``UID=MST:<tax code>`` as Vietnamese certificates do, so nobody can mistake a
document signed with it for a real one; verification says "development key" too.

Files (PEM): ``dev-root.pem`` (the root certificate; its key is thrown away so
nothing else can ever be issued under it), ``dev-signer.pem`` (the signer
certificate), ``dev-signer.key.pem`` (its key, mode 0600). Creation is guarded by
a lock file so concurrent first uses do not mix a key with another's certificate.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from evservice.clock import Clock, SystemClock
from evservice.config import Settings
from evservice.errors import ConfigurationError
from evservice.vn import mst as _mst

__all__ = [
    "DEV_MARKER",
    "DEV_TAX_CODE",
    "DevKeyPaths",
    "dev_key_paths",
    "init_dev_keys",
    "is_development_certificate",
]

#: What every development certificate says in its subject.
DEV_MARKER = "DEVELOPMENT ONLY"
#: A valid-looking tax code for the development signer when none is given.
DEV_TAX_CODE = "0109999904"


@dataclass(frozen=True)
class DevKeyPaths:
    """Where the development key material lives."""

    root_cert: Path
    signer_cert: Path
    signer_key: Path

    def exist(self) -> bool:
        return self.root_cert.is_file() and self.signer_cert.is_file() and self.signer_key.is_file()


#: Development certificates start this long before they are made, so that demos
#: and tests may sign documents dated in the recent past (a real CA's do not).
DEV_BACKDATE = timedelta(days=400)


def dev_key_paths(settings: Settings) -> DevKeyPaths:
    """The paths of the development key material for ``settings`` (they may not exist yet)."""
    base = settings.keys_dir
    return DevKeyPaths(
        root_cert=base / "dev-root.pem",
        signer_cert=base / "dev-signer.pem",
        signer_key=base / "dev-signer.key.pem",
    )


def is_development_certificate(cert: x509.Certificate) -> bool:
    """True when the certificate subject carries the development marker."""
    for attr in cert.subject:
        if isinstance(attr.value, str) and DEV_MARKER in attr.value.upper():
            return True
    return False


def _name(common_name: str, tax_code: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "VN"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, f"evservice {DEV_MARKER}"),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, f"{DEV_MARKER}, not for real use"),
            x509.NameAttribute(NameOID.USER_ID, f"MST:{tax_code}"),
            x509.NameAttribute(NameOID.COMMON_NAME, f"{common_name} ({DEV_MARKER})"),
        ]
    )


def _build(
    subject: x509.Name,
    issuer: x509.Name,
    public_key: rsa.RSAPublicKey,
    issuer_key: rsa.RSAPrivateKey,
    *,
    ca: bool,
    now: datetime,
    years: int,
    issuer_public: rsa.RSAPublicKey,
) -> x509.Certificate:
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - DEV_BACKDATE)
        .not_valid_after(now + timedelta(days=365 * years))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_public), critical=False
        )
        .add_extension(
            x509.KeyUsage(
                digital_signature=not ca,
                content_commitment=not ca,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=ca,
                crl_sign=ca,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
    )
    return builder.sign(issuer_key, hashes.SHA256())


@contextlib.contextmanager
def _locked(directory: Path) -> Iterator[None]:
    directory.mkdir(parents=True, exist_ok=True)
    with open(directory / ".dev-keys.lock", "a+b") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def _write(path: Path, data: bytes, mode: int) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as out:
        out.write(data)
    os.replace(tmp, path)


def init_dev_keys(
    settings: Settings,
    *,
    tax_code: str | None = None,
    holder: str = "evservice development signer",
    clock: Clock | None = None,
    force: bool = False,
) -> tuple[DevKeyPaths, bool]:
    """Create the development root and signer under ``settings.keys_dir`` unless present.

    Returns the paths and whether they were created now. ``force`` replaces an
    existing set (documents signed with the old one then no longer chain to the
    new root). The signer key is RSA-2048, as Vietnamese CAs issue them.
    The certificate's ``UID=MST:`` is ``tax_code``, by default the configured
    seller's (``EVSERVICE_SELLER_TAX_CODE``), else :data:`DEV_TAX_CODE`: a
    verifier compares it with the seller's tax code in the invoice.
    """
    tax_code = _mst.validate(tax_code or settings.seller_tax_code or DEV_TAX_CODE, "tax_code")
    paths = dev_key_paths(settings)
    now = (clock or SystemClock()).now()
    try:
        with _locked(settings.keys_dir):
            if paths.exist() and not force:
                return paths, False
            root_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            signer_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            root_name = _name("evservice development root", tax_code)
            root = _build(
                root_name,
                root_name,
                root_key.public_key(),
                root_key,
                ca=True,
                now=now,
                years=20,
                issuer_public=root_key.public_key(),
            )
            signer = _build(
                _name(holder, tax_code),
                root_name,
                signer_key.public_key(),
                root_key,
                ca=False,
                now=now,
                years=10,
                issuer_public=root_key.public_key(),
            )
            pem = serialization.Encoding.PEM
            _write(
                paths.signer_key,
                signer_key.private_bytes(
                    pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
                ),
                0o600,
            )
            _write(paths.signer_cert, signer.public_bytes(pem), 0o644)
            _write(paths.root_cert, root.public_bytes(pem), 0o644)
    except OSError as exc:
        raise ConfigurationError(
            f"cannot create the development key under {settings.keys_dir}: {exc.strerror}"
        ) from exc
    return paths, True
