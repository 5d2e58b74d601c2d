"""Certificates from files, and the trust roots a deployment accepts.

Roots come from ``settings.trust_roots`` (PEM bundles or DER files). The
development root (``keys_dir/dev-root.pem``) is trusted only when the settings
list it, or in development mode: no signing key configured, so documents are
signed with the development key made by ``evservice init``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from asn1crypto import x509 as asn1_x509
from cryptography import x509

from evservice.config import Settings
from evservice.errors import ConfigurationError
from evservice.signing._devkeys import dev_key_paths

__all__ = [
    "TrustConfig",
    "certificates_from_bytes",
    "load_certificates",
    "to_asn1",
    "trust_config",
    "uses_development_key",
]


def certificates_from_bytes(data: bytes, source: str = "certificate") -> list[x509.Certificate]:
    """Every certificate in a PEM bundle, or the one DER certificate."""
    try:
        if b"-----BEGIN" in data:
            return list(x509.load_pem_x509_certificates(data))
        return [x509.load_der_x509_certificate(data)]
    except ValueError as exc:
        raise ConfigurationError(f"{source}: not a PEM or DER certificate ({exc})") from exc


def load_certificates(path: Path) -> list[x509.Certificate]:
    """Every certificate in the file at ``path``."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise ConfigurationError(f"cannot read certificate file {path}: {exc.strerror}") from exc
    return certificates_from_bytes(data, str(path))


def to_asn1(cert: x509.Certificate) -> asn1_x509.Certificate:
    """The same certificate as asn1crypto sees it (what pyHanko wants)."""
    from cryptography.hazmat.primitives.serialization import Encoding

    return asn1_x509.Certificate.load(cert.public_bytes(Encoding.DER))


def uses_development_key(settings: Settings) -> bool:
    """True when no signing key is configured, so the development key signs."""
    return (
        settings.signing_pkcs12 is None
        and settings.signing_key_pem is None
        and settings.pkcs11_module is None
    )


@dataclass(frozen=True)
class TrustConfig:
    """The roots to validate against, and which of them is the development root."""

    roots: tuple[x509.Certificate, ...]
    development_root: x509.Certificate | None
    intermediates: tuple[x509.Certificate, ...] = ()

    def asn1_roots(self) -> list[asn1_x509.Certificate]:
        return [to_asn1(c) for c in self.roots]


def trust_config(settings: Settings, extra: Iterable[Path | bytes] = ()) -> TrustConfig:
    """Roots from the settings (and ``extra``), plus the development root when it applies.

    Certificates of ``signing_chain_pem`` that are not self-signed count as known
    intermediates (many invoices carry only the signer's certificate).
    """
    roots: list[x509.Certificate] = []
    for path in settings.trust_roots:
        roots.extend(load_certificates(path))
    for item in extra:
        if isinstance(item, bytes):
            roots.extend(certificates_from_bytes(item))
        else:
            roots.extend(load_certificates(item))
    dev_root: x509.Certificate | None = None
    dev_path = dev_key_paths(settings).root_cert
    listed = any(Path(p).resolve() == dev_path.resolve() for p in settings.trust_roots)
    if dev_path.is_file() and (listed or uses_development_key(settings)):
        dev_root = load_certificates(dev_path)[0]
        if dev_root not in roots:
            roots.append(dev_root)
    intermediates: list[x509.Certificate] = []
    if settings.signing_chain_pem is not None and Path(settings.signing_chain_pem).is_file():
        intermediates = [
            c for c in load_certificates(settings.signing_chain_pem) if c.subject != c.issuer
        ]
    return TrustConfig(
        roots=tuple(roots), development_root=dev_root, intermediates=tuple(intermediates)
    )
