"""Verify invoice XML: ours, and other issuers' in the same tax-authority format.

Every ``ds:Signature`` under ``DSCKS`` is checked (the seller's in ``NBan``
must be there). Each gets a :class:`SignatureReport`: which References pass,
whether the SignatureValue verifies with the KeyInfo certificate, whether that
certificate was valid at the (claimed) ``SigningTime`` and chains to a
configured root at that time. The seller's signature must cover
``HDon/DLHDon`` itself: a signature over anything else (a wrapping attack, or a
Reference to a decoy element) signs nothing we read. RSA-SHA1 (older invoices)
is reported as legacy and accepted only when legacy algorithms are allowed.
"""

from __future__ import annotations

from lxml import etree

from evservice.errors import DocumentError
from evservice.signing import check_signature, find_signatures, parse_xml
from evservice.verification._common import (
    VerifyOptions,
    certificate_valid_at,
    chain_trust,
    common_name,
    tax_code_of,
)
from evservice.verification._report import SignatureReport, VerificationReport

__all__ = ["signature_reports", "verify_xml"]

_SHORT = {
    "http://www.w3.org/2000/09/xmldsig#rsa-sha1": "RSA-SHA1",
    "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256": "RSA-SHA256",
    "http://www.w3.org/2001/04/xmldsig-more#rsa-sha384": "RSA-SHA384",
    "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512": "RSA-SHA512",
    "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256": "ECDSA-SHA256",
    "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha384": "ECDSA-SHA384",
    "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha512": "ECDSA-SHA512",
}


def _local(element: etree._Element) -> str:
    return etree.QName(element.tag).localname if isinstance(element.tag, str) else ""


def _owner(sig: etree._Element) -> str:
    """Which slot of DSCKS holds the signature: NBan (seller), NMua, CQT, ..."""
    parent = sig.getparent()
    return _local(parent) if parent is not None else ""


def signature_reports(
    root: etree._Element, options: VerifyOptions
) -> tuple[list[SignatureReport], list[str]]:
    """A report per signature in the invoice, and problems of the document as a whole."""
    problems: list[str] = []
    if _local(root) != "HDon":
        problems.append(f"the root element is {_local(root)!r}, not HDon")
    content = next((c for c in root if _local(c) == "DLHDon"), None)
    if content is None:
        problems.append("the XML has no HDon/DLHDon (the invoice data)")
    reports: list[SignatureReport] = []
    seller_found = False
    for sig in find_signatures(root):
        owner = _owner(sig)
        check = check_signature(sig)
        sig_problems = list(check.problems)
        covers_invoice = content is not None and any(t is content for t in check.covered)
        if owner == "NBan":
            seller_found = True
            if not covers_invoice:
                sig_problems.append("the seller's signature does not cover HDon/DLHDon")
        cert = check.signer_certificate
        moment = check.signing_time or options.moment
        if cert is not None:
            others = [c for c in check.certificates if c is not cert]
            trusted, detail, development = chain_trust(cert, others, options.trust, moment)
        else:
            trusted, detail, development = False, "no signer certificate", False
        if check.legacy and not options.allow_legacy:
            sig_problems.append(
                "uses SHA-1 (legacy RSA-SHA1): not accepted unless legacy algorithms are allowed"
            )
        if check.signing_time is not None and not check.signing_time_signed:
            sig_problems.append("SigningTime is not covered by the signature (claimed only)")
        valid = (
            check.intact
            and check.signature_value_ok
            and (not check.legacy or options.allow_legacy)
            and (owner != "NBan" or covers_invoice)
        )
        name = check.signature_id or owner or "signature"
        reports.append(
            SignatureReport(
                kind="xml",
                name=name if owner in ("", "NBan") else f"{owner}/{name}",
                intact=check.intact,
                valid=valid,
                trusted=trusted,
                algorithm=_SHORT.get(check.signature_method, check.signature_method or "unknown"),
                signer=common_name(cert) if cert is not None else None,
                subject=cert.subject.rfc4514_string() if cert is not None else None,
                tax_code=tax_code_of(cert) if cert is not None else None,
                signing_time=check.signing_time,
                signing_time_source="claimed" if check.signing_time is not None else None,
                certificate_valid_at_signing=(
                    certificate_valid_at(cert, check.signing_time) if cert is not None else None
                ),
                trust_detail=detail,
                references=check.references,
                legacy_algorithm=check.legacy,
                development_key=development,
                problems=tuple(sig_problems),
            )
        )
    if not seller_found:
        problems.append("no seller signature in DSCKS/NBan")
    return reports, problems


def verify_xml(data: bytes, source: str, options: VerifyOptions) -> VerificationReport:
    """Verify an invoice XML document; never raises for a bad document."""
    try:
        root = parse_xml(data)
    except DocumentError as exc:
        return VerificationReport(
            source=source, kind="xml", problems=(str(exc),), checked_at=options.moment
        )
    reports, problems = signature_reports(root, options)
    return VerificationReport(
        source=source,
        kind="xml",
        signatures=tuple(reports),
        problems=tuple(problems),
        checked_at=options.moment,
    )
