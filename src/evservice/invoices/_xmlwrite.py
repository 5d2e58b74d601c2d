"""Invoice XML in the tax authority's format v2.0.x: the writer.

The tree (Decision 1450/QĐ-TCT, as amended)::

    HDon
      DLHDon Id=<invoice.xml_id>          what the seller signs
        TTChung   PBan THDon KHMSHDon KHHDon SHDon NLap DVTTe TGia HTTToan
                  [MSTTCGP] [TTHDLQuan] [TTKhac/TTin*]
        NDHDon    NBan, NMua, DSHHDVu/HHDVu*, TToan
      DSCKS       NBan (empty: the seller's signature goes here), NMua, CCKSKhac

The writer emits compact UTF-8 (no indentation: a signature covers these exact
bytes, and nobody may re-indent after signing), plain decimal numbers (``1500``,
``2.5``; never ``1.5E+3`` or ``1500.0``), ISO dates, and omits optional elements
that are empty. Output is deterministic: the same invoice gives the same bytes.
The extension fields it writes in ``TTKhac`` are listed in :mod:`._xmlformat`;
the parser is :mod:`._xmlparse`.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from lxml import etree

from evservice.errors import ValidationError
from evservice.invoices._model import (
    Buyer,
    Invoice,
    InvoiceLine,
    LineKind,
    Seller,
)
from evservice.invoices._xmlformat import (
    LOOKUP_CODE_FIELD,
    PAYEE_ACCOUNT_FIELD,
    PAYEE_BIN_FIELD,
    PAYEE_NAME_FIELD,
    REFERENCE_FIELD,
    RESERVED,
    XML_VERSION,
)
from evservice.money import round_dong
from evservice.vn import amount_in_words
from evservice.vn import mst as _mst

__all__ = ["format_decimal", "invoice_to_xml"]

_DECLARATION = b'<?xml version="1.0" encoding="UTF-8"?>'

# ---------------------------------------------------------------------------
# writer
# ---------------------------------------------------------------------------


def format_decimal(value: Decimal) -> str:
    """A plain decimal: no exponent, no trailing zeros after the point, ``0`` for zero."""
    if value == 0:
        return "0"
    text = format(value.normalize(), "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


def _put(parent: etree._Element, tag: str, value: object, field: str) -> None:
    """Append ``<tag>value</tag>`` unless the value is None or empty text."""
    if value is None:
        return
    if isinstance(value, Decimal):
        text = format_decimal(value)
    elif isinstance(value, date):
        text = value.isoformat()
    else:
        text = str(value)
        if not text:
            return
    child = etree.SubElement(parent, tag)
    try:
        child.text = text
    except ValueError as exc:
        raise ValidationError(field, "contains characters that XML cannot carry") from exc


def _put_extra(parent: etree._Element, fields: list[tuple[str, str, str]]) -> None:
    """``TTKhac`` with one ``TTin`` per (name, value, field path); omitted when there are none."""
    if not fields:
        return
    block = etree.SubElement(parent, "TTKhac")
    for name, value, path in fields:
        info = etree.SubElement(block, "TTin")
        _put(info, "TTruong", name, path)
        _put(info, "KDLieu", "string", path)
        data = etree.SubElement(info, "DLieu")
        try:
            data.text = value
        except ValueError as exc:
            raise ValidationError(path, "contains characters that XML cannot carry") from exc


def _put_party(parent: etree._Element, party: Seller | Buyer, field: str) -> None:
    _put(parent, "Ten", party.name, f"{field}.name")
    _put(parent, "MST", party.tax_code, f"{field}.tax_code")
    _put(parent, "DChi", party.address, f"{field}.address")
    if isinstance(party, Buyer):
        _put(parent, "MKHang", party.customer_code, f"{field}.customer_code")
    _put(parent, "SDThoai", party.phone, f"{field}.phone")
    _put(parent, "DCTDTu", party.email, f"{field}.email")
    if isinstance(party, Buyer):
        _put(parent, "HVTNMHang", party.person_name, f"{field}.person_name")
    _put(parent, "STKNHang", party.bank_account, f"{field}.bank_account")
    _put(parent, "TNHang", party.bank_name, f"{field}.bank_name")
    if isinstance(party, Seller):
        _put(parent, "Fax", party.fax, f"{field}.fax")
        _put(parent, "Website", party.website, f"{field}.website")


def _stated_discount(line: InvoiceLine) -> Decimal | None:
    """``STCKhau`` as the invoice states it, or None when the line has no discount."""
    if line.discount_amount is not None:
        return line.discount_amount
    if line.discount_rate is not None and line.quantity is not None and line.unit_price is not None:
        return line.line_discount(round_dong(line.quantity * line.unit_price))
    return None


def _put_line(parent: etree._Element, index: int, line: InvoiceLine) -> None:
    field = f"draft.lines.{index}"
    item = etree.SubElement(parent, "HHDVu")
    _put(item, "TChat", int(line.kind), f"{field}.kind")
    _put(item, "STT", index + 1, field)
    _put(item, "MHHDVu", line.code, f"{field}.code")
    _put(item, "THHDVu", line.name, f"{field}.name")
    _put(item, "DVTinh", line.unit, f"{field}.unit")
    _put(item, "SLuong", line.quantity, f"{field}.quantity")
    _put(item, "DGia", line.unit_price, f"{field}.unit_price")
    _put(item, "TLCKhau", line.discount_rate, f"{field}.discount_rate")
    _put(item, "STCKhau", _stated_discount(line), f"{field}.discount_amount")
    if line.kind is LineKind.NOTE:
        _put(item, "ThTien", line.amount, f"{field}.amount")
    else:
        _put(item, "ThTien", line.line_amount(), f"{field}.amount")
    _put(item, "TSuat", line.vat_rate, f"{field}.vat_rate")
    _put_extra(item, [(k, v, f"{field}.extra.{k}") for k, v in line.extra.items()])


def _general_extras(invoice: Invoice) -> list[tuple[str, str, str]]:
    draft = invoice.draft
    fields: list[tuple[str, str, str]] = [(LOOKUP_CODE_FIELD, invoice.lookup_code, "lookup_code")]
    if draft.reference is not None:
        fields.append((REFERENCE_FIELD, draft.reference, "draft.reference"))
    if draft.payment is not None:
        fields.append((PAYEE_BIN_FIELD, draft.payment.bank_bin, "draft.payment.bank_bin"))
        fields.append((PAYEE_ACCOUNT_FIELD, draft.payment.account, "draft.payment.account"))
        if draft.payment.account_name is not None:
            name = draft.payment.account_name
            fields.append((PAYEE_NAME_FIELD, name, "draft.payment.account_name"))
    for key, value in draft.extra.items():
        if key in RESERVED:
            raise ValidationError(
                f"draft.extra.{key}", "is a reserved TTKhac field name; choose another name"
            )
        fields.append((key, value, f"draft.extra.{key}"))
    return fields


def invoice_to_xml(invoice: Invoice, *, provider_tax_code: str | None = None) -> bytes:
    """The invoice as tax-authority XML v2.0.x, compact UTF-8, ready for the seller's signature.

    ``provider_tax_code`` (``MSTTCGP``) is the tax code of the e-invoice service
    provider, when there is one. ``DSCKS/NBan`` is left empty for the signer.
    """
    draft = invoice.draft
    if provider_tax_code is not None:
        provider_tax_code = _mst.validate(provider_tax_code, "provider_tax_code")
    if not invoice.lookup_code:
        raise ValidationError("lookup_code", "is required on an issued invoice")
    totals = invoice.totals

    root = etree.Element("HDon")
    body = etree.SubElement(root, "DLHDon", Id=invoice.xml_id)

    general = etree.SubElement(body, "TTChung")
    _put(general, "PBan", XML_VERSION, "version")
    _put(general, "THDon", draft.title, "draft.title")
    _put(general, "KHMSHDon", draft.template, "draft.template")
    _put(general, "KHHDon", draft.series, "draft.series")
    _put(general, "SHDon", invoice.number, "number")
    _put(general, "NLap", draft.issue_date, "draft.issue_date")
    _put(general, "DVTTe", draft.currency, "draft.currency")
    _put(general, "TGia", draft.exchange_rate, "draft.exchange_rate")
    _put(general, "HTTToan", draft.payment_method, "draft.payment_method")
    _put(general, "MSTTCGP", provider_tax_code, "provider_tax_code")
    if draft.related is not None:
        rel = draft.related
        related = etree.SubElement(general, "TTHDLQuan")
        _put(related, "TCHDon", int(rel.kind), "draft.related.kind")
        _put(related, "LHDCLQuan", rel.invoice_type, "draft.related.invoice_type")
        _put(related, "KHMSHDCLQuan", rel.template, "draft.related.template")
        _put(related, "KHHDCLQuan", rel.series, "draft.related.series")
        _put(related, "SHDCLQuan", rel.number, "draft.related.number")
        _put(related, "NLHDCLQuan", rel.issue_date, "draft.related.issue_date")
        _put(related, "GChu", rel.note, "draft.related.note")
    _put_extra(general, _general_extras(invoice))

    content = etree.SubElement(body, "NDHDon")
    _put_party(etree.SubElement(content, "NBan"), draft.seller, "draft.seller")
    _put_party(etree.SubElement(content, "NMua"), draft.buyer, "draft.buyer")
    items = etree.SubElement(content, "DSHHDVu")
    for index, line in enumerate(draft.lines):
        _put_line(items, index, line)

    summary = etree.SubElement(content, "TToan")
    if totals.by_rate:
        groups = etree.SubElement(summary, "THTTLTSuat")
        for group in totals.by_rate:
            entry = etree.SubElement(groups, "LTSuat")
            _put(entry, "TSuat", group.rate, "totals.rate")
            _put(entry, "ThTien", group.amount, "totals.amount")
            _put(entry, "TThue", group.tax, "totals.tax")
    _put(summary, "TgTCThue", totals.before_tax, "totals.before_tax")
    _put(summary, "TgTThue", totals.tax, "totals.tax")
    _put(summary, "TTCKTMai", totals.trade_discount, "totals.trade_discount")
    _put(summary, "TgTTTBSo", totals.payable, "totals.payable")
    _put(summary, "TgTTTBChu", amount_in_words(totals.payable), "totals.in_words")

    signatures = etree.SubElement(root, "DSCKS")
    for tag in ("NBan", "NMua", "CCKSKhac"):
        etree.SubElement(signatures, tag)
    return _DECLARATION + etree.tostring(root, encoding="UTF-8")
