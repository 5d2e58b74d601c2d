"""Verify invoice XML: ours, and other issuers' in the same tax-authority format.

First the size limits (elements, depth, attributes, namespaces) are checked, so that
nothing is canonicalised that could take unbounded time. Then every ``ds:Signature``
in the document is checked (the seller's in ``DSCKS/NBan`` must be there) and gets a
:class:`SignatureReport` with three separate results: cryptographic (which References
pass, whether the SignatureValue verifies with the KeyInfo certificate), policy (SHA-1
and RSA keys under 2048 bits are legacy, refused unless legacy algorithms are allowed)
and trust (the certificate chains to a configured root at the claimed ``SigningTime``).
The seller's signature must cover ``HDon/DLHDon`` itself: a signature over anything
else (a wrapping attack, or a Reference to a decoy element) signs nothing we read.

A coded invoice carries the tax authority's signature too (``DSCKS/CQT``, over
``HDon/MCCQT``): it must cover the code, which is then reported with the signed values.

Then the document as a whole: what lies outside every signature
(:mod:`._coverage`) and the invoice read from the signed bytes only, with its totals
(:mod:`._content`). Nothing here raises for a bad document or a damaged certificate.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from lxml import etree

from evservice.errors import DocumentError
from evservice.signing import (
    XmlSignatureCheck,
    check_signature,
    check_xml_limits,
    find_signatures,
    parse_xml,
)
from evservice.verification._common import (
    VerifyOptions,
    certificate_valid_at,
    chain_trust,
    describe_certificate,
    weak_key_problem,
)
from evservice.verification._content import read_signed_invoice
from evservice.verification._coverage import uncovered_content
from evservice.verification._report import (
    SignatureReport,
    SignedContentReport,
    VerificationReport,
)

__all__ = ["XmlExamination", "examine_invoice_xml", "verify_xml"]

_SHORT = {
    "http://www.w3.org/2000/09/xmldsig#rsa-sha1": "RSA-SHA1",
    "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256": "RSA-SHA256",
    "http://www.w3.org/2001/04/xmldsig-more#rsa-sha384": "RSA-SHA384",
    "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512": "RSA-SHA512",
    "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256": "ECDSA-SHA256",
    "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha384": "ECDSA-SHA384",
    "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha512": "ECDSA-SHA512",
}
SHA1_PROBLEM = "uses SHA-1 (legacy RSA-SHA1): not accepted unless legacy algorithms are allowed"


@dataclass
class XmlExamination:
    """The signatures of an invoice XML, the document's problems, and its signed content."""

    reports: list[SignatureReport] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    #: ``HDon/DLHDon`` when the seller's signature covers it (its values are reported).
    signed_content: etree._Element | None = None
    content: SignedContentReport | None = None
    #: ``HDon/MCCQT`` when an intact authority signature (``DSCKS/CQT``) covers it.
    code: str | None = None


def _local(element: etree._Element) -> str:
    return etree.QName(element).localname if isinstance(element.tag, str) else ""


def _owner(sig: etree._Element) -> str:
    """Which slot of DSCKS holds the signature: NBan (seller), NMua, CQT, ..."""
    parent = sig.getparent()
    return _local(parent) if parent is not None else ""


def _report(
    check: XmlSignatureCheck, owner: str, covers_invoice: bool, options: VerifyOptions
) -> SignatureReport:
    sig_problems = list(check.problems)
    if owner == "NBan" and not covers_invoice:
        sig_problems.append("the seller's signature does not cover HDon/DLHDon")
    cert = check.signer_certificate
    moment = check.signing_time or options.moment
    if cert is not None:
        others = [c for c in check.certificates if c is not cert]
        trusted, detail, development = chain_trust(cert, others, options.trust, moment)
    else:
        trusted, detail, development = False, "no signer certificate", False
    policy: list[str] = []
    sha1 = check.hash_algorithm == "sha1" or check.legacy
    weak = weak_key_problem(check.key_type, check.key_bits)
    if sha1 and not options.allow_legacy:
        policy.append(SHA1_PROBLEM)
    if weak is not None and not options.allow_legacy:
        policy.append(weak)
    if check.signing_time is not None and not check.signing_time_signed:
        sig_problems.append("SigningTime is not covered by the signature (claimed only)")
    cryptographic = check.intact and check.signature_value_ok
    signer, subject, tax_code = describe_certificate(cert)
    name = check.signature_id or owner or "signature"
    return SignatureReport(
        kind="xml",
        name=name if owner in ("", "NBan") else f"{owner}/{name}",
        intact=check.intact,
        valid=cryptographic and not policy and (owner != "NBan" or covers_invoice),
        trusted=trusted,
        algorithm=_SHORT.get(check.signature_method, check.signature_method or "unknown"),
        signer=signer,
        subject=subject,
        tax_code=tax_code,
        signing_time=check.signing_time,
        signing_time_source="claimed" if check.signing_time is not None else None,
        certificate_valid_at_signing=(
            certificate_valid_at(cert, check.signing_time) if cert is not None else None
        ),
        trust_detail=detail,
        references=check.references,
        legacy_algorithm=sha1 or weak is not None,
        development_key=development,
        problems=tuple(sig_problems + policy),
        cryptographic=cryptographic,
        policy_problems=tuple(policy),
        key=f"{check.key_type} {check.key_bits} bits" if check.key_bits else check.key_type,
    )


def _authority(
    check: XmlSignatureCheck, report: SignatureReport, marks: list[etree._Element]
) -> tuple[SignatureReport, str | None]:
    """The tax authority's signature (``DSCKS/CQT``) must cover ``HDon/MCCQT``; the code it signs.

    The format has the authority sign ``HDon/MCCQT`` and its own ``SigningTime``; the
    seller's signature keeps covering ``DLHDon``. So a coded invoice is whole when both
    hold: nothing is left unsigned, and the code is reported as the authority signed it.
    """
    if len(marks) == 1 and check.covers(marks[0]):
        signed = check.intact and check.signature_value_ok
        return report, (marks[0].text or "").strip() if signed else None
    problem = "the tax authority's signature does not cover HDon/MCCQT (the code)"
    if len(marks) > 1:
        problem = "the invoice carries more than one HDon/MCCQT"
    return dataclasses.replace(report, valid=False, problems=(*report.problems, problem)), None


def _broken(sig: etree._Element, exc: Exception) -> SignatureReport:
    return SignatureReport(
        kind="xml",
        name=sig.get("Id") or _owner(sig) or "signature",
        intact=False,
        valid=False,
        trusted=False,
        algorithm="unknown",
        problems=(f"the signature cannot be checked: {type(exc).__name__}: {exc}",),
        cryptographic=False,
    )


def examine_invoice_xml(root: etree._Element, options: VerifyOptions) -> XmlExamination:
    """A report per signature, the problems of the document, and what is signed."""
    found = XmlExamination()
    limit = check_xml_limits(root)
    if limit is not None:
        found.problems.append(limit)
        return found
    if _local(root) != "HDon":
        found.problems.append(f"the root element is {_local(root)!r}, not HDon")
    contents = [c for c in root if _local(c) == "DLHDon"]  # one, unless someone added one
    if not contents:
        found.problems.append("the XML has no HDon/DLHDon (the invoice data)")
    marks = [c for c in root if _local(c) == "MCCQT"]  # the authority's code, if coded
    covered: list[etree._Element] = []
    seller_found = False
    sellers: list[int] = []  # indexes of the seller's signatures in found.reports
    for sig in find_signatures(root):
        owner = _owner(sig)
        seller_found = seller_found or owner == "NBan"
        if owner == "NBan":
            sellers.append(len(found.reports))
        try:
            check = check_signature(sig)
            content = next((c for c in contents if check.covers(c)), None)
            report = _report(check, owner, content is not None, options)
        except Exception as exc:  # verify never raises: a damaged part is a finding
            found.reports.append(_broken(sig, exc))
            continue
        if owner == "CQT":
            report, code = _authority(check, report, marks)
            found.code = code or found.code
        found.reports.append(report)
        if check.intact and check.signature_value_ok:
            covered.extend(check.covered)
            if owner == "NBan" and content is not None:
                found.signed_content = content
    if not seller_found:
        found.problems.append("no seller signature in DSCKS/NBan")
    values: tuple[tuple[str, str], ...] = ()
    rounding: str | None = None
    findings: list[str] = []
    if found.signed_content is not None:
        values, rounding, findings = read_signed_invoice(found.signed_content)
        if found.code is not None:
            values = (*values, ("MCCQT", found.code))
        seller_tax_code = dict(values).get("NDHDon.NBan.MST") or None
        for index in sellers:
            report = found.reports[index]
            found.reports[index] = dataclasses.replace(report, seller_tax_code=seller_tax_code)
    found.content = SignedContentReport(
        uncovered=tuple(uncovered_content(root, covered)),
        values=values,
        rounding=rounding,
        findings=tuple(findings),
    )
    return found


def verify_xml(data: bytes, source: str, options: VerifyOptions) -> VerificationReport:
    """Verify an invoice XML document; never raises for a bad document."""
    try:
        root = parse_xml(data)
    except DocumentError as exc:
        return VerificationReport(
            source=source, kind="xml", problems=(str(exc),), checked_at=options.moment
        )
    found = examine_invoice_xml(root, options)
    return VerificationReport(
        source=source,
        kind="xml",
        signatures=tuple(found.reports),
        problems=tuple(found.problems),
        checked_at=options.moment,
        content=found.content,
    )
