"""Verify a signed PDF (an invoice, or a sealed contract): its PAdES signatures and the
XML it carries.

PDF signatures are validated by pyHanko (integrity, cryptography, trust against
the configured roots only, offline, with the DSS's OCSP/CRL data when the PDF
has B-LT validation data). A revision appended after the signature that is not
a pure validation-data / time-stamp update (pyHanko's ``LTA_UPDATES``) is
reported as a modification after signing.

The embedded XML (the associated file with ``AFRelationship /Source``) must be
byte-for-byte the one in the signed revision. An invoice's XML must carry a valid
XML signature and the totals printed on the page must agree with its ``TToan``; a
contract's XML must match ``contract.xsd``, and the attached ``shown.pdf`` and the
XML must be the ones whose SHA-256 the attached evidence names. The page text
comes from poppler's ``pdftotext`` (installed by ``scripts/setup.sh``) run on
the signed revision only; without ``pdftotext`` the totals check says "not
checked" instead of guessing.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
import shutil
import subprocess
from decimal import Decimal, InvalidOperation
from io import BytesIO
from typing import Any

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from lxml import etree
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.diff_analysis import ModificationLevel
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko.sign.validation.dss import DocumentSecurityStore
from pyhanko.sign.validation.status import SignatureCoverageLevel
from pyhanko_certvalidator import ValidationContext

from evservice.errors import DocumentError
from evservice.signing import is_development_certificate, parse_xml, to_asn1
from evservice.verification._common import (
    VerifyOptions,
    algorithm_policy,
    anchor_name,
    certificate_valid_at,
    describe_certificate,
    validation_context,
    weak_key_problem,
)
from evservice.verification._report import (
    EmbeddedXmlReport,
    SignatureReport,
    TimestampReport,
    TotalsCheck,
    VerificationReport,
)
from evservice.verification._xml import examine_invoice_xml

__all__ = ["amount_patterns", "verify_pdf"]

_TOTALS = ("TgTCThue", "TgTThue", "TgTTTBSo")


def _dss(reader: PdfFileReader) -> DocumentSecurityStore | None:
    try:
        return DocumentSecurityStore.read_dss(reader)
    except Exception:  # NoDSSFoundError, or a damaged DSS: validate without it
        return None


def _context(options: VerifyOptions, dss: DocumentSecurityStore | None) -> ValidationContext:
    if dss is None:
        return validation_context(options.trust, options.moment, allow_legacy=options.allow_legacy)
    return dss.as_validation_context(
        {
            "trust_roots": options.trust.asn1_roots(),
            "moment": options.moment,
            "allow_fetching": False,
            "revocation_mode": "soft-fail",
            "algorithm_usage_policy": algorithm_policy(options.allow_legacy),
        }
    )


def _key(cert: x509.Certificate) -> tuple[str, int | None]:
    try:
        key = cert.public_key()
    except (ValueError, UnsupportedAlgorithm):
        return "unknown", None
    if isinstance(key, rsa.RSAPublicKey):
        return "RSA", key.key_size
    if isinstance(key, ec.EllipticCurvePublicKey):
        return "ECDSA", key.curve.key_size
    return type(key).__name__, None


def _pdf_signature(
    emb: Any, options: VerifyOptions, dss: DocumentSecurityStore | None
) -> SignatureReport:
    """One PAdES signature's report; a signature too damaged to judge is a failed one."""
    try:
        return _judge_pdf_signature(emb, options, dss)
    except Exception as exc:  # verify never raises: pyHanko and asn1crypto raise many kinds
        return SignatureReport(
            kind="pdf",
            name=str(getattr(emb, "field_name", "signature")),
            intact=False,
            valid=False,
            trusted=False,
            algorithm="unknown",
            problems=(f"the signature cannot be validated: {type(exc).__name__}: {exc}",),
            cryptographic=False,
        )


def _policy(
    md: str, key_type: str, key_bits: int | None, options: VerifyOptions
) -> tuple[list[str], bool]:
    """(policy problems, legacy?) of a PDF signature's digest and key."""
    sha1 = md.lower().replace("-", "") == "sha1"
    weak = weak_key_problem(key_type, key_bits)
    problems: list[str] = []
    if sha1 and not options.allow_legacy:
        problems.append("uses SHA-1: not accepted unless legacy algorithms are allowed")
    if weak is not None and not options.allow_legacy:
        problems.append(weak)
    return problems, sha1 or weak is not None


def _trust_detail(status: Any, cert: x509.Certificate, options: VerifyOptions) -> tuple[str, bool]:
    """What the trust result rests on, and whether the key or its root is the development one."""
    development = is_development_certificate(cert)
    path = status.validation_path
    if status.trusted and path is not None:
        anchor = path.trust_anchor
        anchor_cert = getattr(anchor, "certificate", None)
        dev_root = options.trust.development_root
        if dev_root is not None and anchor_cert is not None:
            development = development or anchor_cert.dump() == to_asn1(dev_root).dump()
        return f"chains to {anchor_name(anchor)}", development
    if not options.trust.roots:
        return "no trust roots configured", development
    indic = status.trust_problem_indic
    return (
        f"not trusted ({getattr(indic, 'name', indic)})" if indic else "not trusted"
    ), development


def _judge_pdf_signature(
    emb: Any, options: VerifyOptions, dss: DocumentSecurityStore | None
) -> SignatureReport:
    name = str(emb.field_name)
    try:
        status = validate_pdf_signature(
            emb,
            signer_validation_context=_context(options, dss),
            ts_validation_context=_context(options, dss),
        )
    except Exception as exc:  # a malformed signature is a finding, not a crash
        return SignatureReport(
            kind="pdf",
            name=name,
            intact=False,
            valid=False,
            trusted=False,
            algorithm="unknown",
            problems=(f"the signature cannot be validated: {type(exc).__name__}: {exc}",),
            cryptographic=False,
        )
    cert = x509.load_der_x509_certificate(status.signing_cert.dump())
    key_type, key_bits = _key(cert)
    md = str(status.md_algorithm)
    policy, legacy = _policy(md, key_type, key_bits, options)
    ts_status = status.timestamp_validity
    timestamp = None
    if ts_status is not None:
        timestamp = TimestampReport(
            time=ts_status.timestamp,
            intact=ts_status.intact,
            valid=ts_status.valid,
            trusted=ts_status.trusted,
            authority=ts_status.signing_cert.subject.human_friendly,
        )
    signing_time = timestamp.time if timestamp else status.signer_reported_dt
    coverage = status.coverage
    level = status.modification_level
    modified = coverage != SignatureCoverageLevel.ENTIRE_FILE and level != (
        ModificationLevel.LTA_UPDATES
    )
    if status.docmdp_ok is False:
        modified = True
    problems: list[str] = []
    if modified:
        what = level.name if level is not None else "unknown changes"
        problems.append(f"the file was modified after signing ({what})")
    trusted = bool(status.trusted)
    detail, development = _trust_detail(status, cert, options)
    pades = "B-B"
    if timestamp is not None:
        pades = "B-LT" if dss is not None and (dss.ocsps or dss.crls) else "B-T"
    signer, subject, tax_code = describe_certificate(cert)
    cryptographic = bool(status.intact and status.valid)
    return SignatureReport(
        kind="pdf",
        name=name,
        intact=bool(status.intact),
        valid=cryptographic and not policy,
        trusted=trusted,
        algorithm=f"{key_type}-{md.upper().replace('_', '')}",
        signer=signer,
        subject=subject,
        tax_code=tax_code,
        signing_time=signing_time,
        signing_time_source="timestamp" if timestamp else "claimed",
        certificate_valid_at_signing=certificate_valid_at(cert, signing_time),
        trust_detail=detail,
        timestamp=timestamp,
        coverage=coverage.name if coverage is not None else None,
        modified_after_signing=modified,
        pades_level=pades,
        development_key=development,
        problems=tuple(problems + policy),
        cryptographic=cryptographic,
        policy_problems=tuple(policy),
        legacy_algorithm=legacy,
        key=f"{key_type} {key_bits} bits" if key_bits else key_type,
    )


def _name(spec: generic.DictionaryObject) -> str:
    for key in ("/UF", "/F"):
        if key in spec:
            return str(spec[key])
    return ""


def _file_specs(root: generic.DictionaryObject) -> list[generic.DictionaryObject]:
    """The attached files: ``/AF`` first, then the EmbeddedFiles name tree."""
    candidates: list[generic.DictionaryObject] = []
    if "/AF" in root:
        candidates.extend(ref.get_object() for ref in root["/AF"])
    try:
        pairs = root["/Names"]["/EmbeddedFiles"]["/Names"]
        candidates.extend(pairs[i + 1].get_object() for i in range(0, len(pairs) - 1, 2))
    except (KeyError, TypeError, IndexError):
        pass
    return [c for c in candidates if "/EF" in c]


def _xml_spec(root: generic.DictionaryObject) -> generic.DictionaryObject | None:
    """The associated XML file: ``/AF`` with ``/Source`` first, then the EmbeddedFiles tree."""
    xml = [c for c in _file_specs(root) if _name(c).lower().endswith(".xml")]
    xml.sort(key=lambda c: 0 if str(c.get("/AFRelationship", "")) == "/Source" else 1)
    return xml[0] if xml else None


def _file_bytes(spec: generic.DictionaryObject) -> bytes:
    stream = spec["/EF"]["/F"].get_object()
    return bytes(stream.data)


def amount_patterns(value: Decimal) -> list[re.Pattern[str]]:
    """How an amount may be printed: 1.234.567 / 1,234,567 / 1 234 567 / 1234567 (+ decimals)."""
    sign = "-" if value < 0 else ""
    text = format(abs(value), "f")
    whole, _, frac = text.partition(".")
    frac = frac.rstrip("0")
    groups = f"{int(whole):,}"
    out = []
    for thousands, decimal in ((".", ","), (",", "."), (" ", ","), ("\u00a0", ","), ("", ",")):
        number = groups.replace(",", thousands) + (decimal + frac if frac else "")
        body = re.escape(sign + number)
        out.append(re.compile(rf"(?<![\d.,]){body}(?![\d]|[.,]\d)"))
    return out


def _page_text(pdf: bytes) -> str | None:
    exe = shutil.which("pdftotext")
    if exe is None:
        return None
    try:
        done = subprocess.run(  # noqa: S603 - fixed argv, our own input on stdin
            [exe, "-enc", "UTF-8", "-", "-"], input=pdf, capture_output=True, timeout=60
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    if done.returncode != 0:
        return None
    return done.stdout.decode("utf-8", "replace")


def _totals(content: etree._Element | None, signed_pdf: bytes) -> TotalsCheck | None:
    """The totals of the signed ``DLHDon`` (``content``; None when no signature covers it)
    against the text of the signed page."""
    if content is None:
        return TotalsCheck(amounts=(), ok=False, detail="no signed HDon/DLHDon to compare")
    totals = None
    if content is not None:
        totals = next(
            (
                e
                for e in content.iter()
                if isinstance(e.tag, str) and etree.QName(e).localname == "TToan"
            ),
            None,
        )
    if totals is None:
        return TotalsCheck(amounts=(), ok=False, detail="the XML has no TToan")
    values: list[tuple[str, Decimal]] = []
    for name in _TOTALS:
        element = next(
            (e for e in totals if isinstance(e.tag, str) and etree.QName(e).localname == name), None
        )
        if element is not None and element.text:
            try:
                values.append((name, Decimal(element.text.strip())))
            except InvalidOperation:
                return TotalsCheck(amounts=(), ok=False, detail=f"{name} is not a number")
    text = _page_text(signed_pdf)
    if text is None:
        amounts = tuple((n, str(v), False) for n, v in values)
        return TotalsCheck(amounts=amounts, ok=None, detail="not checked: pdftotext unavailable")
    shown = tuple(
        (name, str(value), any(p.search(text) for p in amount_patterns(value)))
        for name, value in values
    )
    ok = bool(shown) and all(s for _, _, s in shown)
    return TotalsCheck(amounts=shown, ok=ok, detail="page text read with pdftotext")


def _signed_prefix(pdf: bytes, emb: Any) -> bytes:
    """The bytes of the revision the signature covers (up to the end of its ByteRange)."""
    byte_range = emb.sig_object["/ByteRange"]
    return pdf[: int(byte_range[2]) + int(byte_range[3])]


def _embedded(
    reader: PdfFileReader, pdf: bytes, signatures: list[Any], options: VerifyOptions
) -> EmbeddedXmlReport:
    spec = _xml_spec(reader.root)
    if spec is None:
        return EmbeddedXmlReport(present=False, problems=("the PDF carries no XML file",))
    problems: list[str] = []
    filename = _name(spec)
    relationship = str(spec.get("/AFRelationship", "none")).lstrip("/")
    try:
        data = _file_bytes(spec)
    except Exception as exc:
        return EmbeddedXmlReport(
            present=True, filename=filename, problems=(f"the XML cannot be read: {exc}",)
        )
    params = spec["/EF"]["/F"].get_object().get("/Params")
    if params is not None and "/CheckSum" in params:
        stated = params["/CheckSum"]
        raw = getattr(stated, "original_bytes", stated)
        raw = raw.encode("latin-1") if isinstance(raw, str) else bytes(raw)
        if raw != hashlib.md5(data, usedforsecurity=False).digest():
            problems.append("the embedded file's /CheckSum does not match its bytes")
    same: bool | None = None
    signed_pdf = pdf
    if signatures:
        first = min(signatures, key=lambda e: e.signed_revision)
        signed_pdf = _signed_prefix(pdf, first)
        try:
            old_spec = _xml_spec(reader.get_historical_root(first.signed_revision))
            same = old_spec is not None and _file_bytes(old_spec) == data
        except Exception:
            same = False
        if not same:
            problems.append("the XML is not the one present when the PDF was signed")
    else:
        problems.append("the PDF has no signature covering the XML")
    try:
        xml_root = parse_xml(data)
    except DocumentError as exc:
        return EmbeddedXmlReport(
            present=True,
            filename=filename,
            relationship=relationship,
            same_as_signed=same,
            problems=(*problems, str(exc)),
        )
    from evservice.contracts import CONTRACT_NAMESPACE

    if etree.QName(xml_root).namespace == CONTRACT_NAMESPACE:
        return EmbeddedXmlReport(
            present=True,
            filename=filename,
            relationship=relationship,
            same_as_signed=same,
            problems=tuple(problems),
            document="contract",
            checks=_contract_checks(reader, data),
        )
    found = examine_invoice_xml(xml_root, options)
    problems.extend(found.problems)
    return EmbeddedXmlReport(
        present=True,
        filename=filename,
        relationship=relationship,
        same_as_signed=same,
        signatures=tuple(found.reports),
        totals=_totals(found.signed_content, signed_pdf),
        problems=tuple(problems),
        content=found.content,
    )


def _contract_checks(reader: PdfFileReader, xml: bytes) -> tuple[tuple[str, bool], ...]:
    """A sealed contract: its XML matches the XSD, and the shown PDF and the XML are the
    ones whose SHA-256 the evidence (and the consent codes) name."""
    from evservice.contracts import validate_contract_xml

    files = {_name(spec): spec for spec in _file_specs(reader.root)}
    checks: list[tuple[str, bool]] = []
    try:
        validate_contract_xml(xml)
        checks.append(("contract XML matches contract.xsd", True))
    except DocumentError:
        checks.append(("contract XML matches contract.xsd", False))
    try:
        evidence = json.loads(_file_bytes(files["evidence.json"]))
        shown = _file_bytes(files["shown.pdf"])
    except (KeyError, ValueError):
        return (*checks, ("shown.pdf and evidence.json are attached", False))
    checks.append(
        (
            "shown.pdf is the document the codes were sent for",
            hashlib.sha256(shown).hexdigest() == evidence.get("document_sha256"),
        )
    )
    checks.append(
        (
            "contract XML is the one in the evidence",
            hashlib.sha256(xml).hexdigest() == evidence.get("xml_sha256"),
        )
    )
    signers = evidence.get("signers") or []
    checks.append(
        ("every signer confirmed", bool(signers) and all(s.get("signed_at") for s in signers))
    )
    return tuple(checks)


def verify_pdf(data: bytes, source: str, options: VerifyOptions) -> VerificationReport:
    """Verify a PDF; never raises for a bad document."""
    try:
        reader = PdfFileReader(BytesIO(data), strict=False)
        signatures = list(reader.embedded_regular_signatures)
    except Exception as exc:  # pyHanko's reader raises many kinds on garbage
        return VerificationReport(
            source=source,
            kind="pdf",
            problems=(f"the PDF cannot be read: {type(exc).__name__}: {exc}",),
            checked_at=options.moment,
        )
    dss = _dss(reader)
    reports = tuple(_pdf_signature(emb, options, dss) for emb in signatures)
    try:
        embedded = _embedded(reader, data, signatures, options)
    except Exception as exc:  # a damaged structure around the attachment
        embedded = EmbeddedXmlReport(
            present=False, problems=(f"the embedded XML cannot be examined: {exc}",)
        )
    seller = dict(embedded.content.values).get("NDHDon.NBan.MST") if embedded.content else None
    if seller:  # the PDF is the seller's copy: its signer should be the seller too
        reports = tuple(dataclasses.replace(r, seller_tax_code=seller) for r in reports)
    return VerificationReport(
        source=source,
        kind="pdf",
        signatures=reports,
        embedded_xml=embedded,
        problems=() if signatures else ("the PDF has no signature",),
        checked_at=options.moment,
    )
