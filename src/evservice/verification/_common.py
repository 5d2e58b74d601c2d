"""What XML and PDF verification share: the options, certificate facts and chain trust."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cryptography import x509
from cryptography.x509.oid import NameOID
from pyhanko_certvalidator import CertificateValidator, ValidationContext
from pyhanko_certvalidator.errors import PathBuildingError, PathValidationError, ValidationError
from pyhanko_certvalidator.policy_decl import DisallowWeakAlgorithmsPolicy

from evservice.signing import TrustConfig, is_development_certificate, to_asn1

__all__ = [
    "MIN_RSA_BITS",
    "VerifyOptions",
    "algorithm_policy",
    "anchor_name",
    "certificate_valid_at",
    "chain_trust",
    "common_name",
    "describe_certificate",
    "tax_code_of",
    "validation_context",
    "weak_key_problem",
]

#: RSA keys shorter than this are legacy, like SHA-1 (NIST SP 800-131A: 2048 since 2014).
MIN_RSA_BITS = 2048


@dataclass(frozen=True)
class VerifyOptions:
    """How to judge: the roots to trust, whether SHA-1 is tolerated, and "now"."""

    trust: TrustConfig
    allow_legacy: bool
    moment: datetime


def common_name(cert: x509.Certificate) -> str:
    names = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(names[0].value) if names else cert.subject.rfc4514_string()


def tax_code_of(cert: x509.Certificate) -> str | None:
    """The ``MST:`` tax code Vietnamese certificates carry in UID (or, rarely, in CN/OU)."""
    for oid in (NameOID.USER_ID, NameOID.COMMON_NAME, NameOID.ORGANIZATIONAL_UNIT_NAME):
        for attr in cert.subject.get_attributes_for_oid(oid):
            value = str(attr.value).strip()
            if value.upper().startswith("MST:"):
                return value[4:].strip()
    return None


def describe_certificate(
    cert: x509.Certificate | None,
) -> tuple[str | None, str | None, str | None]:
    """(signer's common name, subject, tax code), None where a damaged name cannot be read."""
    if cert is None:
        return None, None, None
    try:
        return common_name(cert), cert.subject.rfc4514_string(), tax_code_of(cert)
    except (ValueError, UnicodeError):
        return None, None, None


def weak_key_problem(key_type: str | None, bits: int | None) -> str | None:
    """The policy problem of a key too short to accept (RSA under 2048 bits), if any."""
    if key_type == "RSA" and bits is not None and bits < MIN_RSA_BITS:
        return (
            f"RSA key of {bits} bits (under {MIN_RSA_BITS}): not accepted unless legacy "
            "algorithms are allowed"
        )
    return None


def certificate_valid_at(cert: x509.Certificate, when: datetime | None) -> bool | None:
    if when is None:
        return None
    try:
        return cert.not_valid_before_utc <= when <= cert.not_valid_after_utc
    except ValueError:
        return False


def algorithm_policy(allow_legacy: bool) -> DisallowWeakAlgorithmsPolicy:
    """What pyHanko's validator may refuse by itself: short signer keys are *our* policy
    result (:func:`weak_key_problem`), not a trust failure, so its RSA threshold is 1024;
    SHA-1 in a certificate chain stays refused unless legacy algorithms are allowed."""
    weak = frozenset({"md2", "md5"}) if allow_legacy else frozenset({"md2", "md5", "sha1"})
    return DisallowWeakAlgorithmsPolicy(weak_hash_algos=weak, rsa_key_size_threshold=1024)  # type: ignore[no-untyped-call]


def validation_context(
    trust: TrustConfig,
    moment: datetime,
    others: Sequence[x509.Certificate] = (),
    *,
    allow_legacy: bool = False,
) -> ValidationContext:
    """An offline context: the configured roots only, no fetching, soft-fail revocation."""
    return ValidationContext(
        trust_roots=trust.asn1_roots(),
        other_certs=[to_asn1(c) for c in others],
        moment=moment,
        allow_fetching=False,
        revocation_mode="soft-fail",
        algorithm_usage_policy=algorithm_policy(allow_legacy),
    )


def chain_trust(
    cert: x509.Certificate,
    others: Sequence[x509.Certificate],
    trust: TrustConfig,
    moment: datetime,
) -> tuple[bool, str, bool]:
    """(trusted, detail, development) for ``cert`` at ``moment`` against the roots.

    Never raises: a certificate too damaged to validate is simply not trusted.
    """
    try:
        return _chain_trust(cert, others, trust, moment)
    except Exception as exc:  # asn1crypto / certvalidator raise many kinds on damaged DER
        return False, f"the certificate cannot be validated: {type(exc).__name__}", False


def _chain_trust(
    cert: x509.Certificate,
    others: Sequence[x509.Certificate],
    trust: TrustConfig,
    moment: datetime,
) -> tuple[bool, str, bool]:
    development = is_development_certificate(cert)
    if not trust.roots:
        return False, "no trust roots configured", development
    others = [*others, *trust.intermediates]
    context = validation_context(trust, moment, others)
    validator = CertificateValidator(
        to_asn1(cert), intermediate_certs=[to_asn1(c) for c in others], validation_context=context
    )
    try:
        path = asyncio.run(validator.async_validate_path())
    except PathBuildingError:
        return False, "no chain to a configured root", development
    except (PathValidationError, ValidationError) as exc:
        return False, f"chain does not validate: {exc}", development
    anchor = path.trust_anchor
    anchor_cert = getattr(anchor, "certificate", None)
    dev_root = trust.development_root
    if dev_root is not None and anchor_cert is not None:
        development = development or anchor_cert.dump() == to_asn1(dev_root).dump()
    return True, f"chains to {anchor_name(anchor)}", development


def anchor_name(anchor: Any) -> str:
    """The common name of a trust anchor (the whole name when it has none)."""
    name = anchor.authority.name
    native = name.native if hasattr(name, "native") else {}
    common = native.get("common_name") if isinstance(native, dict) else None
    return str(common) if common else str(name.human_friendly)
