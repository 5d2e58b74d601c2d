"""The invoice as the seller signed it: values read from the signed bytes, and its totals.

The values come from the canonical form of the ``DLHDon`` that the seller's digest
covers (re-parsed from those bytes), never from the document as a whole, so an unsigned
second ``DLHDon`` or a comment splitting a number cannot change what we report. The
invoice is read with ``parse_invoice_xml(strict=False)``: missing mandatory totals are
findings, not a refusal, so another issuer's incomplete file still has its signatures
checked.

VAT may be rounded per line (each line's tax rounded, then added up) or once per rate
group; the regulations allow both. A stated group tax is accepted when either rule
gives it, the report says which rule the document used, and only a difference that
neither explains is a finding.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING

from lxml import etree

from evservice.errors import DocumentError, ValidationError
from evservice.money import ZERO, round_dong, vat_percent
from evservice.signing import canonical_subset

if TYPE_CHECKING:
    from evservice.invoices import ParsedInvoice

__all__ = ["PER_GROUP", "PER_LINE", "read_signed_invoice", "totals_findings"]

PER_LINE = "per line"
PER_GROUP = "per rate group"
_C14N = "http://www.w3.org/TR/2001/REC-xml-c14n-20010315"


def read_signed_invoice(
    content: etree._Element,
) -> tuple[tuple[tuple[str, str], ...], str | None, list[str]]:
    """(reported values, rounding rule, findings) for the signed ``DLHDon`` element."""
    from evservice.invoices import parse_invoice_xml  # loads the PDF engine: on first use

    try:
        signed = canonical_subset(content, _C14N, keep_comments=False)
        parsed = parse_invoice_xml(b"<HDon>" + signed + b"</HDon>", strict=False)
    except ValidationError as exc:
        return (), None, [f"the signed invoice data is incomplete: {exc.field}: {exc.reason}"]
    except DocumentError as exc:
        return (), None, [f"the signed invoice data cannot be read: {exc}"]
    findings = [f"{path} is missing (mandatory)" for path in parsed.missing]
    rounding, differences = totals_findings(parsed)
    return _values(parsed), rounding, findings + differences


def _values(parsed: ParsedInvoice) -> tuple[tuple[str, str], ...]:
    draft = parsed.draft
    absent = {path.rpartition(".")[2] for path in parsed.missing}
    values = [
        ("invoice", parsed.label),
        ("TTChung.NLap", draft.issue_date.isoformat()),
        ("NDHDon.NBan.Ten", draft.seller.name),
        ("NDHDon.NBan.MST", draft.seller.tax_code or ""),
    ]
    buyer = draft.buyer.name or draft.buyer.person_name
    if buyer:
        values.append(("NDHDon.NMua", buyer))
    totals = parsed.totals
    for tag, value in (
        ("TgTCThue", totals.before_tax),
        ("TgTThue", totals.tax),
        ("TgTTTBSo", totals.payable),
    ):
        if tag not in absent and "TToan" not in absent:
            values.append((f"NDHDon.TToan.{tag}", str(value)))
    return tuple(values)


def _groups(parsed: ParsedInvoice) -> dict[str, list[Decimal]]:
    """The line amounts of each rate group (trade discounts negative), in document order."""
    from evservice.invoices import LineKind

    groups: dict[str, list[Decimal]] = {}
    for line in parsed.draft.lines:
        if line.kind in (LineKind.NOTE, LineKind.PROMOTION) or line.vat_rate is None:
            continue
        amount = line.line_amount()
        groups.setdefault(line.vat_rate, []).append(
            -amount if line.kind is LineKind.DISCOUNT else amount
        )
    return groups


def _tax(amounts: list[Decimal], percent: Decimal, rule: str) -> Decimal:
    if rule == PER_LINE:
        return sum((round_dong(a * percent / 100) for a in amounts), ZERO)
    return round_dong(sum(amounts, ZERO) * percent / 100)


def totals_findings(parsed: ParsedInvoice) -> tuple[str | None, list[str]]:
    """(the rounding rule the document used, the differences neither rule explains)."""
    absent = {path.rpartition(".")[2] for path in parsed.missing}
    if "TToan" in absent:
        return None, []
    groups = _groups(parsed)
    stated = parsed.totals
    findings: list[str] = []
    rules = {PER_LINE, PER_GROUP}
    taxes = {PER_LINE: ZERO, PER_GROUP: ZERO}
    stated_groups = {g.rate: g for g in stated.by_rate}
    for rate, amounts in groups.items():
        percent = vat_percent(rate)
        if percent is None:
            continue
        expected = {rule: _tax(amounts, percent, rule) for rule in (PER_LINE, PER_GROUP)}
        for rule in expected:
            taxes[rule] += expected[rule]
        group = stated_groups.get(rate)
        if group is None or group.tax is None:
            continue
        fits = {rule for rule, value in expected.items() if value == group.tax}
        if not fits:
            findings.append(
                f"LTSuat[{rate}].TThue = {group.tax}: neither rounding per line "
                f"({expected[PER_LINE]}) nor per rate group ({expected[PER_GROUP]}) gives it"
            )
        else:
            rules &= fits
    for rate in sorted(groups.keys() | stated_groups.keys()):
        total = sum(groups.get(rate, []), ZERO)
        group = stated_groups.get(rate)
        if group is None:
            if stated.by_rate:
                findings.append(f"LTSuat[{rate}] is missing for lines at {rate}")
        elif group.amount != total:
            findings.append(f"LTSuat[{rate}].ThTien = {group.amount}, the lines add up to {total}")
    before_tax = sum((sum(a, ZERO) for a in groups.values()), ZERO)
    if "TgTCThue" not in absent and stated.before_tax != before_tax:
        findings.append(f"TgTCThue = {stated.before_tax}, the lines add up to {before_tax}")
    if "TgTThue" not in absent:
        fits = {rule for rule in rules if taxes[rule] == stated.tax}
        if not fits:
            findings.append(
                f"TgTThue = {stated.tax}: neither rounding per line ({taxes[PER_LINE]}) "
                f"nor per rate group ({taxes[PER_GROUP]}) gives it"
            )
        rules = fits
    totals_given = not absent & {"TgTCThue", "TgTThue", "TgTTTBSo"}
    if totals_given and stated.payable != stated.before_tax + stated.tax:
        findings.append(
            f"TgTTTBSo = {stated.payable} is not TgTCThue + TgTThue "
            f"({stated.before_tax + stated.tax})"
        )
    return _rule_name(rules, taxes), findings


def _rule_name(rules: set[str], taxes: dict[str, Decimal]) -> str | None:
    if rules == {PER_LINE, PER_GROUP}:
        if taxes[PER_LINE] == taxes[PER_GROUP]:
            return "per line or per rate group (both give the same)"
        return None
    return next(iter(rules)) if rules else None
