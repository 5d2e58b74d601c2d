"""Status objects of a verification, in pyHanko's style: ``.intact``, ``.valid``, ``.trusted``.

A :class:`SignatureReport` describes one signature (XML or PDF); the
:class:`VerificationReport` of a file holds them all, plus, for a PDF, the check
of the embedded XML (:class:`EmbeddedXmlReport`). ``ok`` is the bottom line;
``summary()`` is one line, ``text()`` the readable report the CLI prints and
``to_dict()`` / ``to_json()`` what ``--json`` prints.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from evservice.signing import ReferenceCheck

__all__ = [
    "EmbeddedXmlReport",
    "SignatureReport",
    "SignedContentReport",
    "TimestampReport",
    "TotalsCheck",
    "VerificationReport",
]


def _iso(when: datetime | None) -> str | None:
    return when.isoformat() if when is not None else None


def _yes(flag: bool | None, yes: str = "yes", no: str = "NO") -> str:
    return "unknown" if flag is None else (yes if flag else no)


@dataclass(frozen=True)
class TimestampReport:
    """An RFC 3161 signature time-stamp: the time it proves and whether it holds."""

    time: datetime
    intact: bool
    valid: bool
    trusted: bool
    authority: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "time": _iso(self.time),
            "intact": self.intact,
            "valid": self.valid,
            "trusted": self.trusted,
            "authority": self.authority,
        }


@dataclass(frozen=True)
class SignatureReport:
    """One signature: integrity, cryptographic validity, trust, signer, time.

    Three results, each judged on its own:

    - cryptographic (``cryptographic_ok``): every digest matches (``intact``) and the
      signature value verifies with the signer's key;
    - policy (``policy_ok``, ``policy_problems``): the algorithms and key are acceptable
      (SHA-1 and RSA keys under 2048 bits only when legacy algorithms are allowed);
    - trust (``trusted``): the signer's certificate chains to a configured root.

    ``valid`` is the cryptographic and the policy result together (and, for the
    seller's XML signature, that it covers ``HDon/DLHDon``).
    """

    kind: Literal["xml", "pdf"]
    name: str
    intact: bool
    valid: bool
    trusted: bool
    algorithm: str
    signer: str | None = None
    subject: str | None = None
    tax_code: str | None = None
    signing_time: datetime | None = None
    signing_time_source: Literal["claimed", "timestamp"] | None = None
    certificate_valid_at_signing: bool | None = None
    trust_detail: str | None = None
    references: tuple[ReferenceCheck, ...] = ()
    timestamp: TimestampReport | None = None
    coverage: str | None = None
    modified_after_signing: bool | None = None
    pades_level: str | None = None
    legacy_algorithm: bool = False
    development_key: bool = False
    problems: tuple[str, ...] = ()
    #: The cryptographic result; None means "as ``valid`` says" (older callers).
    cryptographic: bool | None = None
    policy_problems: tuple[str, ...] = ()
    key: str | None = None  # the signer's key, e.g. "RSA 2048 bits"
    #: The seller's tax code in the signed invoice (``NBan/MST``), for the seller's
    #: signatures (XML in ``DSCKS/NBan``, and the PDF's); None where there is none.
    seller_tax_code: str | None = None

    @property
    def tax_code_matches_seller(self) -> bool | None:
        """Whether the certificate's ``MST:`` is the seller's (a branch may sign with the
        company's ten digits); None when either is unknown. Reported, and flagged in
        the summary, but not a failure by itself: the trust result says whose
        certificate it is."""
        if not self.tax_code or not self.seller_tax_code:
            return None
        cert = self.tax_code.replace("-", "").strip()
        seller = self.seller_tax_code.replace("-", "").strip()
        return cert == seller or (len(cert) == 10 and seller[:10] == cert)

    @property
    def cryptographic_ok(self) -> bool:
        return self.valid if self.cryptographic is None else self.cryptographic

    @property
    def policy_ok(self) -> bool:
        return not self.policy_problems

    @property
    def ok(self) -> bool:
        """The bottom line: intact, valid, trusted, certificate in date, not modified."""
        return (
            self.intact
            and self.valid
            and self.trusted
            and self.certificate_valid_at_signing is not False
            and not self.modified_after_signing
            and (self.timestamp is None or (self.timestamp.valid and self.timestamp.intact))
        )

    def summary(self) -> str:
        """One line: ``INTACT,VALID,TRUSTED`` style flags, pyHanko-like."""
        dotnet = bool(self.references) and all(r.ok or r.dotnet_only for r in self.references)
        flags = [
            "INTACT" if self.intact else "DOTNET_ENVELOPED_ONLY" if dotnet else "TAMPERED",
            "VALID" if self.valid else "INVALID",
            "TRUSTED" if self.trusted else "UNTRUSTED",
        ]
        if not self.policy_ok:
            flags.append("REFUSED_BY_POLICY")
        if self.modified_after_signing:
            flags.append("MODIFIED_AFTER_SIGNING")
        if self.legacy_algorithm:
            flags.append("LEGACY_ALGORITHM")
        if self.tax_code_matches_seller is False:
            flags.append("NOT_THE_SELLERS_TAX_CODE")
        if self.development_key:
            flags.append("DEVELOPMENT_KEY")
        return ",".join(flags)

    def text(self, indent: str = "  ") -> str:
        label = "XML signature" if self.kind == "xml" else "PDF signature"
        lines = [f"{label} {self.name!r}: {'OK' if self.ok else 'FAILED'} ({self.summary()})"]
        add = lines.append
        add(f"{indent}signed by: {self.signer or 'unknown'}")
        if self.tax_code:
            add(f"{indent}tax code (MST): {self.tax_code}")
        if self.tax_code_matches_seller is False:
            add(
                f"{indent}NOT the seller's tax code: the invoice's seller is "
                f"{self.seller_tax_code}, the certificate says {self.tax_code}"
            )
        if self.development_key:
            add(f"{indent}development key: DEVELOPMENT ONLY, not valid for real documents")
        if self.signing_time is not None:
            when = self.signing_time.isoformat()
            add(f"{indent}signing time: {when} ({self.signing_time_source})")
        add(f"{indent}algorithm: {self.algorithm}" + (f", key {self.key}" if self.key else ""))
        if self.legacy_algorithm:
            add(f"{indent}legacy algorithm or key: accepted only when explicitly allowed")
        add(f"{indent}content intact: {_yes(self.intact)}")
        for ref in self.references:
            if ref.ok:
                state = "pass"
            elif ref.dotnet_only:
                state = f"FAIL: {ref.status}"
            else:
                state = f"FAIL ({ref.problem})"
            add(f"{indent}  reference {ref.uri} [{ref.digest_algorithm}]: {state}")
        add(f"{indent}cryptographic result: {'pass' if self.cryptographic_ok else 'FAIL'}")
        policy = "; ".join(self.policy_problems)
        add(f"{indent}policy result: " + (f"REFUSED ({policy})" if policy else "accepted"))
        detail = f" ({self.trust_detail})" if self.trust_detail else ""
        add(f"{indent}trust result: {'trusted' if self.trusted else 'NOT trusted'}{detail}")
        add(f"{indent}certificate valid at signing time: {_yes(self.certificate_valid_at_signing)}")
        if self.kind == "pdf":
            add(f"{indent}PAdES level: {self.pades_level or 'unknown'}")
            add(f"{indent}coverage: {self.coverage or 'unknown'}")
            add(
                f"{indent}modified after signing: "
                f"{_yes(self.modified_after_signing, yes='YES', no='no')}"
            )
        if self.timestamp is not None:
            ts = self.timestamp
            add(
                f"{indent}timestamp: {ts.time.isoformat()} by {ts.authority or 'unknown TSA'}"
                f" (valid: {_yes(ts.valid)}, trusted: {_yes(ts.trusted)})"
            )
        elif self.kind == "pdf":
            add(f"{indent}timestamp: none")
        for problem in self.problems:
            add(f"{indent}problem: {problem}")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "name": self.name,
            "ok": self.ok,
            "summary": self.summary(),
            "intact": self.intact,
            "valid": self.valid,
            "trusted": self.trusted,
            "algorithm": self.algorithm,
            "signer": self.signer,
            "subject": self.subject,
            "tax_code": self.tax_code,
            "seller_tax_code": self.seller_tax_code,
            "tax_code_matches_seller": self.tax_code_matches_seller,
            "signing_time": _iso(self.signing_time),
            "signing_time_source": self.signing_time_source,
            "certificate_valid_at_signing": self.certificate_valid_at_signing,
            "trust_detail": self.trust_detail,
            "references": [r.to_dict() for r in self.references],
            "timestamp": self.timestamp.to_dict() if self.timestamp else None,
            "coverage": self.coverage,
            "modified_after_signing": self.modified_after_signing,
            "pades_level": self.pades_level,
            "legacy_algorithm": self.legacy_algorithm,
            "development_key": self.development_key,
            "problems": list(self.problems),
            "key": self.key,
            "cryptographic": {
                "ok": self.cryptographic_ok,
                "intact": self.intact,
                "references": [r.status for r in self.references],
            },
            "policy": {"ok": self.policy_ok, "problems": list(self.policy_problems)},
            "trust": {
                "ok": self.trusted,
                "detail": self.trust_detail,
                "certificate_valid_at_signing": self.certificate_valid_at_signing,
            },
        }


@dataclass(frozen=True)
class SignedContentReport:
    """What the XML signatures cover, and the invoice as read from the signed bytes only.

    ``uncovered`` names content outside every signature (an unsigned second
    ``DLHDon``, a comment inside a signed total, text between elements); ``values``
    are (XML path, value) pairs read from the canonical bytes the seller's digest
    covers; ``rounding`` says how the VAT was rounded (``per line``, ``per rate
    group``, or both when they agree); ``findings`` are missing mandatory fields
    and totals that neither rounding rule explains.
    """

    uncovered: tuple[str, ...] = ()
    values: tuple[tuple[str, str], ...] = ()
    rounding: str | None = None
    findings: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.uncovered and not self.findings

    def text(self, indent: str = "  ") -> str:
        lines = [f"signed content: {'OK' if self.ok else 'FAILED'}"]
        lines.extend(f"{indent}NOT SIGNED: {item}" for item in self.uncovered)
        lines.extend(f"{indent}{path} = {value}" for path, value in self.values)
        if self.rounding:
            lines.append(f"{indent}VAT rounding: {self.rounding}")
        lines.extend(f"{indent}finding: {item}" for item in self.findings)
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "uncovered": list(self.uncovered),
            "values": dict(self.values),
            "rounding": self.rounding,
            "findings": list(self.findings),
        }


@dataclass(frozen=True)
class TotalsCheck:
    """Do the totals printed in the PDF agree with the signed XML's ``TToan``?

    ``amounts`` maps each XML element (``TgTCThue``, ``TgTThue``, ``TgTTTBSo``)
    to its value and whether the PDF's text shows that amount. ``ok`` is None
    when the PDF text could not be extracted.
    """

    amounts: tuple[tuple[str, str, bool], ...]
    ok: bool | None
    detail: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "detail": self.detail,
            "amounts": [{"element": e, "value": v, "shown": s} for e, v, s in self.amounts],
        }


@dataclass(frozen=True)
class EmbeddedXmlReport:
    """The XML carried in a PDF: found, unchanged since signing, its signature, its totals."""

    present: bool
    filename: str | None = None
    relationship: str | None = None
    same_as_signed: bool | None = None
    signatures: tuple[SignatureReport, ...] = ()
    totals: TotalsCheck | None = None
    problems: tuple[str, ...] = ()
    #: ``invoice`` (tax-authority XML with its own XML signature) or ``contract`` (our
    #: contract XML, sealed by the PDF signature, with the shown PDF and the evidence).
    document: str = "invoice"
    #: Named yes/no checks of a contract's attachments (shown PDF hash, XSD, ...).
    checks: tuple[tuple[str, bool], ...] = ()
    content: SignedContentReport | None = None

    @property
    def ok(self) -> bool:
        if not (self.present and self.same_as_signed is True and not self.problems):
            return False
        if self.document == "contract":
            return bool(self.checks) and all(passed for _, passed in self.checks)
        return (
            bool(self.signatures)
            and all(s.ok for s in self.signatures)
            and (self.totals is None or self.totals.ok is not False)
            and (self.content is None or self.content.ok)
        )

    def text(self, indent: str = "  ") -> str:
        if not self.present:
            lines = ["embedded XML: NONE (an invoice PDF carries its signed XML)"]
            lines.extend(f"{indent}problem: {p}" for p in self.problems)
            return "\n".join(lines)
        lines = [
            f"embedded {self.document} XML {self.filename!r} (AFRelationship "
            f"{self.relationship}): {'OK' if self.ok else 'FAILED'}",
            f"{indent}same bytes as in the signed revision: {_yes(self.same_as_signed)}",
        ]
        lines.extend(f"{indent}{name}: {_yes(passed)}" for name, passed in self.checks)
        if self.totals is not None:
            state = _yes(self.totals.ok)
            lines.append(f"{indent}totals shown in the PDF agree with the XML: {state}")
            for element, value, shown in self.totals.amounts:
                lines.append(f"{indent}  {element} = {value}: {'shown' if shown else 'NOT shown'}")
            if self.totals.detail:
                lines.append(f"{indent}  ({self.totals.detail})")
        for sig in self.signatures:
            lines.extend(indent + line for line in sig.text(indent).splitlines())
        if not self.signatures and self.document == "invoice":
            lines.append(f"{indent}XML signature: NONE")
        if self.content is not None:
            lines.extend(indent + line for line in self.content.text(indent).splitlines())
        lines.extend(f"{indent}problem: {p}" for p in self.problems)
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "present": self.present,
            "filename": self.filename,
            "relationship": self.relationship,
            "same_as_signed": self.same_as_signed,
            "signatures": [s.to_dict() for s in self.signatures],
            "totals": self.totals.to_dict() if self.totals else None,
            "problems": list(self.problems),
            "document": self.document,
            "checks": [{"check": name, "ok": passed} for name, passed in self.checks],
            "content": self.content.to_dict() if self.content else None,
        }


@dataclass(frozen=True)
class VerificationReport:
    """Everything found in one file. ``ok`` is False when any part fails."""

    source: str
    kind: Literal["pdf", "xml", "unknown"]
    signatures: tuple[SignatureReport, ...] = ()
    embedded_xml: EmbeddedXmlReport | None = None
    problems: tuple[str, ...] = ()
    checked_at: datetime | None = field(default=None, compare=False)
    content: SignedContentReport | None = None

    @property
    def ok(self) -> bool:
        return (
            bool(self.signatures)
            and all(s.ok for s in self.signatures)
            and (self.embedded_xml is None or self.embedded_xml.ok)
            and (self.content is None or self.content.ok)
            and not self.problems
        )

    @property
    def cryptographic_ok(self) -> bool:
        """Every signature's cryptographic result (the embedded XML's too) passes."""
        nested = self.embedded_xml.signatures if self.embedded_xml else ()
        every = (*self.signatures, *nested)
        return bool(every) and all(s.cryptographic_ok for s in every)

    @property
    def policy_ok(self) -> bool:
        nested = self.embedded_xml.signatures if self.embedded_xml else ()
        return all(s.policy_ok for s in (*self.signatures, *nested))

    @property
    def intact(self) -> bool:
        return bool(self.signatures) and all(s.intact for s in self.signatures)

    @property
    def valid(self) -> bool:
        return bool(self.signatures) and all(s.valid for s in self.signatures)

    @property
    def trusted(self) -> bool:
        return bool(self.signatures) and all(s.trusted for s in self.signatures)

    @property
    def development_key(self) -> bool:
        nested = self.embedded_xml.signatures if self.embedded_xml else ()
        return any(s.development_key for s in (*self.signatures, *nested))

    def summary(self) -> str:
        """One line for the file."""
        verdict = "OK" if self.ok else "FAILED"
        parts = [s.summary() for s in self.signatures] or ["no signature"]
        return f"{self.source}: {verdict} [{self.kind}] {'; '.join(parts)}"

    def text(self) -> str:
        """The readable report the CLI prints."""
        lines = [f"{self.source}: {'OK' if self.ok else 'FAILED'} ({self.kind})"]
        if self.development_key:
            lines.append("  WARNING: signed with the development key (DEVELOPMENT ONLY)")
        for sig in self.signatures:
            lines.extend("  " + line for line in sig.text().splitlines())
        if not self.signatures:
            lines.append("  no signature found")
        if self.embedded_xml is not None:
            lines.extend("  " + line for line in self.embedded_xml.text().splitlines())
        if self.content is not None:
            lines.extend("  " + line for line in self.content.text().splitlines())
        lines.extend(f"  problem: {p}" for p in self.problems)
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "kind": self.kind,
            "ok": self.ok,
            "intact": self.intact,
            "valid": self.valid,
            "trusted": self.trusted,
            "cryptographic_ok": self.cryptographic_ok,
            "policy_ok": self.policy_ok,
            "development_key": self.development_key,
            "checked_at": _iso(self.checked_at),
            "content": self.content.to_dict() if self.content else None,
            "signatures": [s.to_dict() for s in self.signatures],
            "embedded_xml": self.embedded_xml.to_dict() if self.embedded_xml else None,
            "problems": list(self.problems),
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, indent=2)
