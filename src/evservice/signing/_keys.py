"""Key material, loaded once per process: PKCS#12, PEM, a PKCS#11 token, or the dev key.

A :class:`DocumentSigner` carries a pyHanko :class:`~pyhanko.sign.signers.Signer`
(passed through, not hidden: a :class:`LoadedKeySigner` for key files, pyHanko's
``PKCS11Signer`` for a token), the certificate and chain, the time-stamper for
PAdES B-T/B-LT, and a fixed signature size so pyHanko never signs twice to
measure it. The same key signs the XML (XMLDSig) and the PDF (PAdES).

:func:`load_signer` caches one ``DocumentSigner`` per distinct key configuration,
so a batch worker parses its key once, never per document.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import functools
import threading
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.hazmat.primitives.serialization import pkcs12
from pyhanko.keys.internal import translate_pyca_cryptography_key_to_asn1
from pyhanko.sign.signers import Signer, SimpleSigner
from pyhanko.sign.timestamps import HTTPTimeStamper, TimeStamper
from pyhanko_certvalidator.registry import SimpleCertificateStore

from evservice.config import Settings
from evservice.errors import ConfigurationError, SigningError
from evservice.signing._devkeys import dev_key_paths, init_dev_keys, is_development_certificate
from evservice.signing._signer import PadesLevel
from evservice.signing._trust import load_certificates, to_asn1, trust_config, uses_development_key

__all__ = [
    "DocumentSigner",
    "LoadedKeySigner",
    "PadesLevel",
    "clear_signer_cache",
    "load_signer",
    "signer_from_files",
    "signer_from_key",
    "signer_from_pkcs11",
]

XMLDSIG_RSA_SHA256 = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
XMLDSIG_ECDSA_SHA256 = "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256"


class LoadedKeySigner(SimpleSigner):
    """pyHanko's ``SimpleSigner`` that keeps the parsed private key.

    Stock ``SimpleSigner.sign_raw`` turns its ASN.1 key back into a
    ``cryptography`` key on every signature (an RSA key check costs tens of
    milliseconds); this one parses it once. It is a real pyHanko ``Signer``:
    pass it to ``PdfSigner`` or ``sign_pdf`` as any other.
    """

    def __init__(
        self,
        private_key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey,
        signing_cert: asn1_x509.Certificate,
        cert_registry: SimpleCertificateStore,
    ) -> None:
        super().__init__(
            signing_cert=signing_cert,
            signing_key=translate_pyca_cryptography_key_to_asn1(private_key),
            cert_registry=cert_registry,
        )
        self._private_key = private_key

    def sign_raw(self, data: bytes, digest_algorithm: str) -> bytes:
        """Sign ``data`` (RSA PKCS#1 v1.5 or ECDSA, DER-encoded as CMS wants)."""
        algo = _hash(digest_algorithm)
        key = self._private_key
        if isinstance(key, rsa.RSAPrivateKey):
            return key.sign(data, padding.PKCS1v15(), algo)
        return key.sign(data, ec.ECDSA(algo))

    async def async_sign_raw(
        self, data: bytes, digest_algorithm: str, dry_run: bool = False
    ) -> bytes:
        return self.sign_raw(data, digest_algorithm)


def _hash(name: str) -> hashes.HashAlgorithm:
    table: dict[str, hashes.HashAlgorithm] = {
        "sha256": hashes.SHA256(),
        "sha384": hashes.SHA384(),
        "sha512": hashes.SHA512(),
    }
    try:
        return table[name.lower().replace("-", "")]
    except KeyError:
        raise SigningError(f"digest algorithm {name!r} is not supported for signing") from None


@dataclass(frozen=True, eq=False)
class DocumentSigner:
    """One signing key, ready for many documents: a :class:`~._signer.Signer`.

    ``signer`` is pyHanko's own ``Signer``; ``certificate`` and ``chain`` are the
    ``cryptography`` views of the certificates; ``development`` says the key is
    the throw-away development key. Sign with
    :func:`evservice.signing.sign_invoice_xml` and :func:`evservice.signing.sign_pdf`.
    """

    signer: Signer
    certificate: x509.Certificate
    chain: tuple[x509.Certificate, ...] = ()
    timestamper: TimeStamper | None = None
    pades_level: PadesLevel = "B-B"
    trust_roots: tuple[x509.Certificate, ...] = ()
    development: bool = False
    description: str = "key"
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _serial: bool = False

    @property
    def xml_signature_method(self) -> str:
        """The XMLDSig ``SignatureMethod`` this key produces."""
        if isinstance(self.certificate.public_key(), ec.EllipticCurvePublicKey):
            return XMLDSIG_ECDSA_SHA256
        return XMLDSIG_RSA_SHA256

    @functools.cached_property
    def xml_key_info(self) -> tuple[str, tuple[str, ...]]:
        """``X509SubjectName`` and the base64 ``X509Certificate`` values for XMLDSig.

        The signer's certificate first, then the chain without a self-signed root;
        worked out once per signer, not once per invoice.
        """
        certificates = (self.certificate, *(c for c in self.chain if c.subject != c.issuer))
        return self.certificate.subject.rfc4514_string(), tuple(
            base64.b64encode(c.public_bytes(serialization.Encoding.DER)).decode()
            for c in certificates
        )

    @property
    def signer_name(self) -> str:
        """The certificate's common name (what the stamp and the report print)."""
        names = self.certificate.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
        return str(names[0].value) if names else self.certificate.subject.rfc4514_string()

    @property
    def bytes_reserved(self) -> int:
        """Room for the CMS blob in the PDF (hex digits), fixed so pyHanko signs once.

        Certificates plus signature and signed attributes, and room for an RFC
        3161 token when a time-stamper is set; doubled because PDF stores hex.
        """
        certs = len(self.certificate.public_bytes(serialization.Encoding.DER))
        certs += sum(len(c.public_bytes(serialization.Encoding.DER)) for c in self.chain)
        size = certs + 3072
        if self.timestamper is not None:
            size += 16384
        return 2 * size

    def raw_sign(self, data: bytes) -> bytes:
        """Sign ``data`` with SHA-256; the value encoded as XMLDSig wants (ECDSA as r||s)."""
        try:
            value = self.cms_sign(data)
        except SigningError:
            raise
        except Exception as exc:
            raise SigningError(f"the {self.description} failed to sign: {exc}") from exc
        public = self.certificate.public_key()
        if isinstance(public, ec.EllipticCurvePublicKey):
            r, s = decode_dss_signature(value)
            size = (public.curve.key_size + 7) // 8
            return r.to_bytes(size, "big") + s.to_bytes(size, "big")
        return bytes(value)

    def cms_sign(self, data: bytes) -> bytes:
        """Sign ``data`` with SHA-256 as CMS wants it (ECDSA DER-encoded); errors unwrapped."""
        with self.guard():
            if isinstance(self.signer, LoadedKeySigner):
                return self.signer.sign_raw(data, "sha256")
            return bytes(asyncio.run(self.signer.async_sign_raw(data, "sha256")))

    def guard(self) -> AbstractContextManager[Any]:
        """A lock around token operations (a PKCS#11 session is not thread-safe)."""
        return self._lock if self._serial else contextlib.nullcontext()


def _registry(certs: list[x509.Certificate]) -> SimpleCertificateStore:
    store = SimpleCertificateStore()  # type: ignore[no-untyped-call]
    store.register_multiple([to_asn1(c) for c in certs])
    return store


def signer_from_key(
    private_key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey,
    certificate: x509.Certificate,
    chain: list[x509.Certificate] | tuple[x509.Certificate, ...] = (),
    *,
    timestamper: TimeStamper | None = None,
    pades_level: PadesLevel = "B-B",
    trust_roots: tuple[x509.Certificate, ...] = (),
    description: str = "key",
) -> DocumentSigner:
    """A :class:`DocumentSigner` for a key already in memory."""
    if not isinstance(private_key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
        raise ConfigurationError("the signing key must be RSA or ECDSA")
    if private_key.public_key().public_numbers() != certificate.public_key().public_numbers():  # type: ignore[union-attr]
        raise ConfigurationError("the signing key does not match its certificate")
    chain = tuple(c for c in chain if c != certificate)
    pdf_signer = LoadedKeySigner(private_key, to_asn1(certificate), _registry(list(chain)))
    _check_level(pades_level, timestamper, trust_roots)
    return DocumentSigner(
        signer=pdf_signer,
        certificate=certificate,
        chain=chain,
        timestamper=timestamper,
        pades_level=pades_level,
        trust_roots=trust_roots,
        development=is_development_certificate(certificate),
        description=description,
    )


def _check_level(
    level: PadesLevel, timestamper: TimeStamper | None, roots: tuple[x509.Certificate, ...]
) -> None:
    if level in ("B-T", "B-LT") and timestamper is None:
        raise ConfigurationError(f"PAdES {level} needs a time-stamp authority (tsa_url)")
    if level == "B-LT" and not roots:
        raise ConfigurationError("PAdES B-LT needs trust_roots to collect validation data")


def _read(path: Path, what: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise ConfigurationError(f"cannot read the {what} {path}: {exc.strerror}") from exc


def signer_from_files(
    *,
    pkcs12_path: Path | None = None,
    password: bytes | None = None,
    key_pem: Path | None = None,
    cert_pem: Path | None = None,
    chain_pem: Path | None = None,
    timestamper: TimeStamper | None = None,
    pades_level: PadesLevel = "B-B",
    trust_roots: tuple[x509.Certificate, ...] = (),
) -> DocumentSigner:
    """A signer from a PKCS#12 file (``.p12``/``.pfx``) or a PEM key plus certificate(s)."""
    extra = load_certificates(chain_pem) if chain_pem else []
    if pkcs12_path is not None:
        try:
            key, cert, others = pkcs12.load_key_and_certificates(
                _read(pkcs12_path, "PKCS#12 file"), password
            )
        except ValueError as exc:
            # cryptography says "Invalid password or PKCS12 data": no secret in it.
            raise ConfigurationError(f"cannot open the PKCS#12 file {pkcs12_path}: {exc}") from exc
        if key is None or cert is None:
            raise ConfigurationError(f"the PKCS#12 file {pkcs12_path} holds no key and certificate")
        description = f"PKCS#12 key {Path(pkcs12_path).name}"
        chain = [*others, *extra]
    elif key_pem is not None and cert_pem is not None:
        try:
            key = serialization.load_pem_private_key(_read(key_pem, "key file"), None)
        except (ValueError, TypeError) as exc:
            raise ConfigurationError(
                f"cannot load the PEM key {key_pem} (encrypted keys: use PKCS#12)"
            ) from exc
        certs = load_certificates(cert_pem)
        cert, chain = certs[0], [*certs[1:], *extra]
        description = f"PEM key {Path(key_pem).name}"
    else:
        raise ConfigurationError("give a PKCS#12 file, or a PEM key and its certificate")
    if not isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
        raise ConfigurationError("the signing key must be RSA or ECDSA")
    return signer_from_key(
        key,
        cert,
        chain,
        timestamper=timestamper,
        pades_level=pades_level,
        trust_roots=trust_roots,
        description=description,
    )


def signer_from_pkcs11(
    module: Path,
    *,
    token_label: str,
    key_label: str,
    pin: str | None,
    cert_pem: Path | None = None,
    chain_pem: Path | None = None,
    timestamper: TimeStamper | None = None,
    pades_level: PadesLevel = "B-B",
    trust_roots: tuple[x509.Certificate, ...] = (),
) -> DocumentSigner:
    """A signer whose key stays on a PKCS#11 token (an HSM; SoftHSM2 in tests).

    The session stays open for the process. The certificate is read from the
    token (object labelled ``key_label``) unless ``cert_pem`` gives it.
    """
    try:
        from pyhanko.config.pkcs11 import TokenCriteria
        from pyhanko.sign.pkcs11 import PKCS11Signer, open_pkcs11_session
    except ImportError as exc:  # the 'hsm' extra
        raise ConfigurationError("PKCS#11 signing needs python-pkcs11 (evservice[hsm])") from exc
    chain = load_certificates(chain_pem) if chain_pem else []
    given = load_certificates(cert_pem)[0] if cert_pem else None
    try:
        session = open_pkcs11_session(
            str(module), token_criteria=TokenCriteria(label=token_label), user_pin=pin
        )
        pdf_signer = PKCS11Signer(
            session,
            key_label=key_label,
            cert_label=key_label if given is None else None,
            signing_cert=to_asn1(given) if given is not None else None,
            ca_chain=[to_asn1(c) for c in chain],
        )
        asyncio.run(pdf_signer.ensure_objects_loaded())  # type: ignore[no-untyped-call]
        cert_der = pdf_signer.signing_cert.dump()
    except Exception as exc:  # python-pkcs11 raises its own tree; messages hold no PIN
        raise ConfigurationError(
            f"cannot use key {key_label!r} on PKCS#11 token {token_label!r}: "
            f"{type(exc).__name__}: {exc}"
        ) from exc
    certificate = x509.load_der_x509_certificate(cert_der)
    _check_level(pades_level, timestamper, trust_roots)
    return DocumentSigner(
        signer=pdf_signer,
        certificate=certificate,
        chain=tuple(chain),
        timestamper=timestamper,
        pades_level=pades_level,
        trust_roots=trust_roots,
        development=is_development_certificate(certificate),
        description=f"PKCS#11 key {key_label!r} on token {token_label!r}",
        _serial=True,
    )


_cache: dict[tuple[Any, ...], DocumentSigner] = {}
_cache_lock = threading.Lock()


def _cache_key(settings: Settings) -> tuple[Any, ...]:
    def secret(value: Any) -> str | None:
        return None if value is None else str(value.get_secret_value())

    dev = uses_development_key(settings)
    return (
        settings.signing_pkcs12,
        secret(settings.signing_pkcs12_password),
        settings.signing_key_pem,
        settings.signing_cert_pem,
        settings.signing_chain_pem,
        settings.pkcs11_module,
        settings.pkcs11_token_label,
        settings.pkcs11_key_label,
        secret(settings.pkcs11_pin),
        settings.tsa_url,
        settings.pades_level,
        tuple(settings.trust_roots),
        settings.keys_dir.resolve() if dev else None,
    )


def load_signer(settings: Settings) -> DocumentSigner:
    """The signer the settings describe, built once per process and configuration.

    Order: PKCS#11 token when ``pkcs11_module`` is set, then the PKCS#12 file,
    then the PEM key and certificate; with none of them, the development key
    under ``keys_dir`` (made on first use).
    """
    key = _cache_key(settings)
    with _cache_lock:
        cached = _cache.get(key)
        if cached is None:
            cached = _build(settings)
            _cache[key] = cached
        return cached


def clear_signer_cache() -> None:
    """Forget loaded signers (after replacing key files, or between tests)."""
    with _cache_lock:
        _cache.clear()


def _build(settings: Settings) -> DocumentSigner:
    development = uses_development_key(settings)
    if development:
        init_dev_keys(settings)  # before the roots are read: the dev root is one of them
    timestamper = (
        HTTPTimeStamper(settings.tsa_url, timeout=15)
        if settings.tsa_url and settings.pades_level in ("B-T", "B-LT")
        else None
    )
    roots = trust_config(settings).roots
    common: dict[str, Any] = {
        "timestamper": timestamper,
        "pades_level": settings.pades_level,
        "trust_roots": roots,
    }
    if settings.pkcs11_module is not None:
        if not settings.pkcs11_token_label or not settings.pkcs11_key_label:
            raise ConfigurationError(
                "PKCS#11 signing needs pkcs11_token_label and pkcs11_key_label"
            )
        pin = settings.pkcs11_pin.get_secret_value() if settings.pkcs11_pin else None
        return signer_from_pkcs11(
            settings.pkcs11_module,
            token_label=settings.pkcs11_token_label,
            key_label=settings.pkcs11_key_label,
            pin=pin,
            cert_pem=settings.signing_cert_pem,
            chain_pem=settings.signing_chain_pem,
            **common,
        )
    if settings.signing_pkcs12 is not None:
        password = settings.signing_pkcs12_password
        return signer_from_files(
            pkcs12_path=settings.signing_pkcs12,
            password=password.get_secret_value().encode() if password else None,
            chain_pem=settings.signing_chain_pem,
            **common,
        )
    if settings.signing_key_pem is not None:
        if settings.signing_cert_pem is None:
            raise ConfigurationError("signing_key_pem needs signing_cert_pem")
        return signer_from_files(
            key_pem=settings.signing_key_pem,
            cert_pem=settings.signing_cert_pem,
            chain_pem=settings.signing_chain_pem,
            **common,
        )
    paths = dev_key_paths(settings)
    signer = signer_from_files(
        key_pem=paths.signer_key, cert_pem=paths.signer_cert, chain_pem=paths.root_cert, **common
    )
    return DocumentSigner(
        signer=signer.signer,
        certificate=signer.certificate,
        chain=signer.chain,
        timestamper=signer.timestamper,
        pades_level=signer.pades_level,
        trust_roots=signer.trust_roots,
        development=True,
        description=f"development key in {dev_key_paths(settings).signer_key.parent}",
    )
