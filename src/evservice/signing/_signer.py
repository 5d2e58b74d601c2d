"""What key material offers the XML and PDF signers: the :class:`Signer` protocol.

XMLDSig (:mod:`._xmldsig`) and PAdES (:mod:`._pades`, :mod:`._fastpades`)
take a ``Signer`` and use only these members; key material
(:class:`~._keys.DocumentSigner`: key files, a PKCS#11 token, the development
key) implements them and knows nothing of XML or PDF. Hence the one-way
imports: ``_keys`` → ``_signer`` ← ``_xmldsig``, ``_pades``, ``_fastpades``.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Any, Literal, Protocol

from cryptography import x509
from pyhanko.sign import signers
from pyhanko.sign.timestamps import TimeStamper

__all__ = ["PadesLevel", "Signer"]

PadesLevel = Literal["B-B", "B-T", "B-LT"]


class Signer(Protocol):
    """One signing key as the XML and PDF signers see it."""

    @property
    def signer(self) -> signers.Signer:
        """pyHanko's ``Signer`` for the key (the PAdES paths sign through it)."""

    @property
    def certificate(self) -> x509.Certificate:
        """The signer's certificate."""

    @property
    def chain(self) -> tuple[x509.Certificate, ...]:
        """The certificates above it (intermediates, maybe the root)."""

    @property
    def timestamper(self) -> TimeStamper | None:
        """The RFC 3161 time-stamper for PAdES B-T/B-LT, if any."""

    @property
    def pades_level(self) -> PadesLevel:
        """The PAdES level PDFs are signed at."""

    @property
    def trust_roots(self) -> tuple[x509.Certificate, ...]:
        """Roots to collect validation data against (B-LT)."""

    @property
    def development(self) -> bool:
        """True for the throw-away development key (the stamp says so)."""

    @property
    def xml_signature_method(self) -> str:
        """The XMLDSig ``SignatureMethod`` URI this key produces."""

    @property
    def xml_key_info(self) -> tuple[str, tuple[str, ...]]:
        """``X509SubjectName`` and the base64 ``X509Certificate`` values for the KeyInfo."""

    @property
    def signer_name(self) -> str:
        """The name the stamp and the reports print (the certificate's common name)."""

    @property
    def bytes_reserved(self) -> int:
        """Hex digits kept in a PDF for the CMS signature."""

    def raw_sign(self, data: bytes) -> bytes:
        """SHA-256 signature of ``data`` as XMLDSig encodes it (ECDSA as r||s)."""

    def cms_sign(self, data: bytes) -> bytes:
        """SHA-256 signature of ``data`` as CMS encodes it (ECDSA as DER); errors unwrapped."""

    def guard(self) -> AbstractContextManager[Any]:
        """Held around every use of the key (a PKCS#11 session is not thread-safe)."""
