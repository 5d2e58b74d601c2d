"""Contracts as XML in our own schema (``contract.xsd``, namespace ``urn:evservice:contract:1``).

The XML holds the contract's content exactly as shown: parties, terms and the
numbered articles. It is embedded in the contract PDF; its SHA-256 is part of
the consent evidence.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from functools import cache
from importlib import resources

from lxml import etree

from evservice.contracts._model import Contract, ElectricityTerms
from evservice.contracts._templates import TITLES, render_clauses
from evservice.errors import DocumentError
from evservice.money import round_dong

__all__ = ["NAMESPACE", "contract_schema", "contract_to_xml", "validate_contract_xml"]

NAMESPACE = "urn:evservice:contract:1"
_N = f"{{{NAMESPACE}}}"


def _dong(value: Decimal) -> str:
    return str(int(round_dong(value)))


def _add(parent: etree._Element, tag: str, text: object | None) -> None:
    if text is None or text == "":
        return
    child = etree.SubElement(parent, _N + tag)
    child.text = str(text)


def _section(
    parent: etree._Element, tag: str, children: Iterable[tuple[str, object | None]]
) -> None:
    """A child element ``tag`` of ``parent`` holding one element per given value."""
    section = etree.SubElement(parent, _N + tag)
    for name, value in children:
        _add(section, name, value)


def contract_to_xml(contract: Contract) -> bytes:
    """The contract as compact UTF-8 XML (deterministic: same contract, same bytes)."""
    draft = contract.draft
    root = etree.Element(_N + "Contract", nsmap={None: NAMESPACE})  # type: ignore[dict-item]
    root.set("version", "1")
    _add(root, "Number", contract.number)
    _add(root, "Kind", draft.kind.value)
    _add(root, "Title", TITLES[draft.kind])
    _add(root, "StartDate", draft.start_date.isoformat())
    _add(root, "SignPlace", draft.sign_place)
    p = draft.provider
    _section(
        root,
        "Provider",
        (
            ("Name", p.name),
            ("TaxCode", p.tax_code),
            ("Address", p.address),
            ("Phone", p.phone),
            ("Representative", p.representative),
            ("RepresentativeTitle", p.representative_title),
            ("BankBin", p.payment.bank_bin if p.payment else None),
            ("BankAccount", p.payment.account if p.payment else None),
        ),
    )
    c = draft.customer
    _section(
        root,
        "Customer",
        (
            ("Name", c.name),
            ("IdNumber", c.id_number),
            ("TaxCode", c.tax_code),
            ("Address", c.address),
            ("Phone", c.phone),
            ("Email", c.email),
        ),
    )
    t = draft.terms
    if isinstance(t, ElectricityTerms):
        _section(
            root,
            "Electricity",
            (
                ("ServiceAddress", t.service_address),
                ("MeterId", t.meter_id),
                ("Purpose", t.purpose),
                ("TariffCode", t.tariff_code),
                ("Households", t.households),
                ("TermMonths", t.term_months),
                ("Deposit", _dong(t.deposit)),
            ),
        )
    else:
        _section(
            root,
            "Internet",
            (
                ("ServiceAddress", t.service_address),
                ("Plan", t.plan),
                ("MonthlyFee", _dong(t.monthly_fee)),
                ("BillByDay", "true" if t.bill_by_day else "false"),
                ("TermMonths", t.term_months),
                ("EarlyTerminationFee", _dong(t.early_termination_fee)),
                ("InstallationFee", _dong(t.installation_fee)),
            ),
        )
    articles = etree.SubElement(root, _N + "Articles")
    for article in render_clauses(draft):
        el = etree.SubElement(articles, _N + "Article", number=str(article.number))
        _add(el, "Title", article.title)
        for clause in article.clauses:
            cl = etree.SubElement(el, _N + "Clause", number=clause.number)
            cl.text = clause.text
    _add(root, "AmountDue", _dong(draft.amount_due))
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8"))


@cache
def contract_schema() -> etree.XMLSchema:
    """The shipped XSD, parsed once per process."""
    data = resources.files("evservice.contracts").joinpath("contract.xsd").read_bytes()
    return etree.XMLSchema(etree.fromstring(data))


def validate_contract_xml(data: bytes) -> None:
    """Raise DocumentError unless ``data`` is a contract valid against ``contract.xsd``."""
    parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)
    try:
        doc = etree.fromstring(data, parser)
    except etree.XMLSyntaxError as exc:
        raise DocumentError(f"contract XML is not well-formed: {exc}") from exc
    schema = contract_schema()
    if not schema.validate(doc):
        error = schema.error_log.last_error  # type: ignore[attr-defined]
        raise DocumentError(f"contract XML does not match contract.xsd: {error}")
