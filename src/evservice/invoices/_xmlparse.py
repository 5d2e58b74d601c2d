"""Invoice XML in the tax authority's format v2.0.x: a tolerant, safe parser.

The parser reads our writer's output (:mod:`._xmlwrite`) back losslessly and
tolerates what other issuers emit: extra ``TTKhac`` fields, empty or unknown
elements, whitespace, an ``MCCQT`` code and a filled ``DSCKS``. It never
touches the network and refuses DTDs (so no entity expansion, no billion
laughs).

One rule decides what ``ThTien`` and ``STCKhau`` mean on the way back: they are
always written (the invoice states them), and the parser returns
``amount=None`` when ``ThTien`` is exactly what quantity x unit price less the
discount gives (likewise ``discount_amount=None`` when ``STCKhau`` is what
``TLCKhau`` gives). A draft that lets the model compute its amounts comes back
identical; a draft that states an amount equal to the computed one comes back
without it, which is the same invoice and the same XML bytes.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar

from lxml import etree
from pydantic import BaseModel, ConfigDict

from evservice._pydantic import parse_model
from evservice._xmlsafe import parse_untrusted_xml
from evservice.errors import DocumentError, ValidationError
from evservice.invoices._model import (
    Buyer,
    InvoiceDraft,
    InvoiceLine,
    LineKind,
    RateTotal,
    RelatedInvoice,
    Seller,
    Totals,
)
from evservice.invoices._xmlformat import (
    LOOKUP_ALIASES,
    LOOKUP_CODE_FIELD,
    MAX_XML_BYTES,
    PAYEE_ACCOUNT_FIELD,
    PAYEE_BIN_FIELD,
    PAYEE_NAME_FIELD,
    REFERENCE_FIELD,
    RESERVED,
)
from evservice.money import ZERO, parse_vat_rate, round_dong
from evservice.payments import PaymentAccount

__all__ = ["ParsedInvoice", "parse_invoice_xml"]

# ---------------------------------------------------------------------------
# parser
# ---------------------------------------------------------------------------


class ParsedInvoice(BaseModel):
    """An invoice read from XML: its content as a draft, its identity and its stated totals.

    ``totals`` and ``amount_in_words`` are what the document says (``TToan``),
    not recomputed, so a verifier can compare them with ``draft.totals()``;
    ``line_amounts`` are the stated ``ThTien`` of each line (None when absent).
    """

    model_config = ConfigDict(frozen=True)
    draft: InvoiceDraft
    number: int
    lookup_code: str | None
    totals: Totals
    amount_in_words: str
    line_amounts: tuple[Decimal | None, ...]
    xml_id: str | None  # DLHDon/@Id
    version: str | None  # PBan
    provider_tax_code: str | None  # MSTTCGP
    tax_authority_code: str | None  # MCCQT, on invoices coded by the tax authority
    seller_signed: bool  # DSCKS/NBan holds a Signature element
    #: Mandatory TToan fields the document lacks (XML paths), read with ``strict=False``
    #: only; their places in ``totals`` / ``amount_in_words`` hold 0 / "" stand-ins.
    missing: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        """How people name it: ``1C26TAA-00000123``."""
        return f"{self.draft.template}{self.draft.series}-{self.number:08d}"

    def total_mismatches(self) -> list[str]:
        """Where the stated totals differ from the totals recomputed from the lines.

        Each entry names the ``TToan`` element (``TgTThue``, ``LTSuat[8%].TThue``);
        an empty list means the document adds up. Rate groups compare by rate,
        in any order.
        """
        computed = self.draft.totals()
        stated = self.totals
        absent = {path.rpartition(".")[2] for path in self.missing}
        if "TToan" in absent:
            return []
        problems = [
            tag
            for tag, a, b in (
                ("TgTCThue", stated.before_tax, computed.before_tax),
                ("TgTThue", stated.tax, computed.tax),
                ("TTCKTMai", stated.trade_discount, computed.trade_discount),
                ("TgTTTBSo", stated.payable, computed.payable),
            )
            if a != b and tag not in absent
        ]
        mine = {group.rate: group for group in computed.by_rate}
        theirs = {group.rate: group for group in stated.by_rate}
        for rate in sorted(mine.keys() | theirs.keys()):
            a_group, b_group = theirs.get(rate), mine.get(rate)
            if a_group is None or b_group is None:
                problems.append(f"LTSuat[{rate}]")
                continue
            if a_group.amount != b_group.amount:
                problems.append(f"LTSuat[{rate}].ThTien")
            if (a_group.tax or ZERO) != (b_group.tax or ZERO):
                problems.append(f"LTSuat[{rate}].TThue")
        return problems


_M = TypeVar("_M", bound=BaseModel)

_PARTY_NAMES = {
    "name": "Ten",
    "tax_code": "MST",
    "address": "DChi",
    "phone": "SDThoai",
    "email": "DCTDTu",
    "bank_account": "STKNHang",
    "bank_name": "TNHang",
    "fax": "Fax",
    "website": "Website",
    "person_name": "HVTNMHang",
    "customer_code": "MKHang",
}
_LINE_NAMES = {
    "kind": "TChat",
    "name": "THHDVu",
    "code": "MHHDVu",
    "unit": "DVTinh",
    "quantity": "SLuong",
    "unit_price": "DGia",
    "discount_rate": "TLCKhau",
    "discount_amount": "STCKhau",
    "amount": "ThTien",
    "vat_rate": "TSuat",
    "extra": "TTKhac",
}
_RELATED_NAMES = {
    "kind": "TCHDon",
    "invoice_type": "LHDCLQuan",
    "template": "KHMSHDCLQuan",
    "series": "KHHDCLQuan",
    "number": "SHDCLQuan",
    "issue_date": "NLHDCLQuan",
    "note": "GChu",
    "related": "",
}
_DRAFT_NAMES = {
    "template": "TTChung.KHMSHDon",
    "series": "TTChung.KHHDon",
    "issue_date": "TTChung.NLap",
    "title": "TTChung.THDon",
    "currency": "TTChung.DVTTe",
    "exchange_rate": "TTChung.TGia",
    "payment_method": "TTChung.HTTToan",
    "reference": f"TTChung.TTKhac.{REFERENCE_FIELD}",
    "payment": "TTChung.TTKhac",
    "extra": "TTChung.TTKhac",
    "related": "TTChung.TTHDLQuan",
    "seller": "NDHDon.NBan",
    "buyer": "NDHDon.NMua",
    "lines": "NDHDon.DSHHDVu",
}


def _xml_model(cls: type[_M], data: Mapping[str, Any], path: str, names: Mapping[str, str]) -> _M:
    """Validate ``data`` as ``cls``; errors name XML paths (``NDHDon.NBan.MST``)."""
    try:
        return parse_model(cls, dict(data))
    except ValidationError as exc:
        problems = [(_xml_path(field, path, names), reason) for field, reason in exc.problems]
        raise ValidationError(problems[0][0], problems[0][1], problems=problems) from exc


def _xml_path(field: str, path: str, names: Mapping[str, str]) -> str:
    head, _, rest = field.partition(".")
    if head == "(root)":
        return path
    mapped = names.get(head, head)
    parts = [p for p in (path, mapped, rest) if p]
    return ".".join(parts)


def _local(element: etree._Element) -> str | None:
    tag = element.tag
    if not isinstance(tag, str):
        return None  # comment or processing instruction
    return tag.rpartition("}")[2]


def _children(element: etree._Element, name: str) -> Iterator[etree._Element]:
    for child in element:
        if _local(child) == name:
            yield child


def _child(element: etree._Element | None, name: str) -> etree._Element | None:
    if element is None:
        return None
    return next(_children(element, name), None)


_Fields = dict[str, str]


def _fields(element: etree._Element | None) -> _Fields:
    """Stripped text of each leaf child by local name (first occurrence; empty ones left out).

    Built once per element so that reading a dozen fields costs one pass.
    """
    fields: _Fields = {}
    if element is None:
        return fields
    seen: set[str] = set()
    for child in element:
        tag = child.tag
        if not isinstance(tag, str):
            continue  # comment or processing instruction
        name = tag.rpartition("}")[2]
        if name in seen:
            continue
        seen.add(name)
        if len(child):
            continue  # a block (TTKhac, THTTLTSuat, ...), read with _child
        text = (child.text or "").strip()
        if text:
            fields[name] = text
    return fields


def _text(fields: _Fields, name: str) -> str | None:
    """The stripped text of child ``name``; None when absent or empty."""
    return fields.get(name)


def _required(fields: _Fields, name: str, path: str) -> str:
    text = fields.get(name)
    if text is None:
        raise ValidationError(f"{path}.{name}", "is missing or empty")
    return text


def _decimal(text: str | None, path: str) -> Decimal | None:
    if text is None:
        return None
    try:
        value = Decimal(text)
    except InvalidOperation as exc:
        raise ValidationError(path, "is not a number") from exc
    if not value.is_finite():
        raise ValidationError(path, "must be a finite number")
    return value


def _integer(text: str, path: str) -> int:
    value = _decimal(text, path)
    if value is None or value != value.to_integral_value():
        raise ValidationError(path, "must be a whole number")
    return int(value)


def _date(text: str | None, path: str) -> date | None:
    if text is None:
        return None
    try:
        # Some issuers write a date-time (2025-02-18T14:15:00); the date is what counts.
        return date.fromisoformat(text[:10])
    except ValueError as exc:
        raise ValidationError(path, "is not an ISO date (YYYY-MM-DD)") from exc


def _extras(block: etree._Element | None) -> list[tuple[str, str]]:
    """(TTruong, DLieu) pairs of a ``TTKhac`` block, in document order, nameless ones dropped."""
    if block is None:
        return []
    pairs: list[tuple[str, str]] = []
    for info in _children(block, "TTin"):
        fields = _fields(info)
        name = fields.get("TTruong")
        if name is None:
            continue
        pairs.append((name, fields.get("DLieu", "")))
    return pairs


def _party_data(element: etree._Element) -> dict[str, Any]:
    data: dict[str, Any] = {}
    fields = _fields(element)
    for field, tag in _PARTY_NAMES.items():
        value = fields.get(tag)
        if value is not None:
            data[field] = value
    return data


def _read_line(element: etree._Element, path: str) -> tuple[InvoiceLine, Decimal | None]:
    fields = _fields(element)
    kind_number = _integer(_required(fields, "TChat", path), f"{path}.TChat")
    try:
        kind = LineKind(kind_number)
    except ValueError as exc:
        raise ValidationError(f"{path}.TChat", "must be 1, 2, 3 or 4") from exc
    data: dict[str, Any] = {"kind": kind}
    for field in ("name", "code", "unit", "vat_rate"):
        value = fields.get(_LINE_NAMES[field])
        if value is not None:
            data[field] = value
    for field in ("quantity", "unit_price", "discount_rate"):
        tag = _LINE_NAMES[field]
        number = _decimal(fields.get(tag), f"{path}.{tag}")
        if number is not None:
            data[field] = number
    extra: dict[str, str] = {}
    for name, value in _extras(_child(element, "TTKhac")):
        extra.setdefault(name, value)
    data["extra"] = extra

    stated = _decimal(fields.get("ThTien"), f"{path}.ThTien")
    discount = _decimal(fields.get("STCKhau"), f"{path}.STCKhau")
    derivable = "quantity" in data and "unit_price" in data
    rate_given = derivable and "discount_rate" in data
    if discount is not None and not (
        rate_given and _derived(data).line_discount(_gross(data)) == discount
    ):
        data["discount_amount"] = discount
    if stated is not None and (
        kind is LineKind.NOTE or not derivable or _derived(data).line_amount() != stated
    ):
        data["amount"] = stated
    return _xml_model(InvoiceLine, data, path, _LINE_NAMES), stated


def _gross(data: dict[str, Any]) -> Decimal:
    quantity: Decimal = data["quantity"]
    unit_price: Decimal = data["unit_price"]
    return round_dong(quantity * unit_price)


def _derived(data: dict[str, Any]) -> InvoiceLine:
    """The line as given, without a stated amount, to compute what it derives (unvalidated)."""
    return InvoiceLine.model_construct(**(data | {"amount": None}))


def _lines(items: etree._Element | None) -> tuple[list[InvoiceLine], list[Decimal | None]]:
    if items is None:
        raise ValidationError("NDHDon.DSHHDVu", "is missing")
    lines: list[InvoiceLine] = []
    stated: list[Decimal | None] = []
    for position, element in enumerate(_children(items, "HHDVu"), start=1):
        line, amount = _read_line(element, f"NDHDon.DSHHDVu.HHDVu[{position}]")
        lines.append(line)
        stated.append(amount)
    if not lines:
        raise ValidationError("NDHDon.DSHHDVu.HHDVu", "the invoice has no lines")
    return lines, stated


def _related(element: etree._Element | None) -> RelatedInvoice | None:
    if element is None or len(element) == 0:
        return None
    path = "TTChung.TTHDLQuan"
    fields = _fields(element)
    data: dict[str, Any] = {
        "kind": _integer(_required(fields, "TCHDon", path), f"{path}.TCHDon"),
        "template": _required(fields, "KHMSHDCLQuan", path),
        "series": _required(fields, "KHHDCLQuan", path),
        "number": _integer(_required(fields, "SHDCLQuan", path), f"{path}.SHDCLQuan"),
        "issue_date": _date(_required(fields, "NLHDCLQuan", path), f"{path}.NLHDCLQuan"),
    }
    kind = _text(fields, "LHDCLQuan")
    if kind is not None:
        data["invoice_type"] = _integer(kind, f"{path}.LHDCLQuan")
    note = _text(fields, "GChu")
    if note is not None:
        data["note"] = note
    return _xml_model(RelatedInvoice, data, path, _RELATED_NAMES)


def _stated_totals(
    element: etree._Element | None, missing: list[str] | None = None
) -> tuple[Totals, str]:
    """``TToan`` as stated. With ``missing`` (non-strict), an absent mandatory total is
    named there and stands as 0 (and an absent ``TgTTTBChu`` as "") instead of raising."""
    path = "NDHDon.TToan"
    if element is None:
        if missing is None:
            raise ValidationError(path, "is missing")
        missing.append(path)
        element = etree.Element("TToan")

    fields = _fields(element)

    def present(tag: str) -> bool:
        if missing is None or _text(fields, tag) is not None:
            return True
        if path not in missing:  # the whole TToan missing is one finding
            missing.append(f"{path}.{tag}")
        return False

    def amount(tag: str, *, required: bool = True) -> Decimal:
        if required and not present(tag):
            return ZERO
        text = _required(fields, tag, path) if required else _text(fields, tag)
        value = _decimal(text, f"{path}.{tag}")
        return ZERO if value is None else value

    groups: list[RateTotal] = []
    block = _child(element, "THTTLTSuat")
    if block is not None:
        for position, entry in enumerate(_children(block, "LTSuat"), start=1):
            where = f"{path}.THTTLTSuat.LTSuat[{position}]"
            cells = _fields(entry)
            rate = parse_vat_rate(_required(cells, "TSuat", where), f"{where}.TSuat")
            value = _decimal(_required(cells, "ThTien", where), f"{where}.ThTien")
            tax = _decimal(cells.get("TThue"), f"{where}.TThue")
            groups.append(RateTotal(rate=rate, amount=value or ZERO, tax=tax))
    totals = Totals(
        by_rate=tuple(groups),
        before_tax=amount("TgTCThue"),
        tax=amount("TgTThue"),
        trade_discount=amount("TTCKTMai", required=False),
        payable=amount("TgTTTBSo"),
    )
    return totals, _required(fields, "TgTTTBChu", path) if present("TgTTTBChu") else ""


def _parse_tree(data: bytes) -> etree._Element:
    root = parse_untrusted_xml(data, what="invoice XML", max_bytes=MAX_XML_BYTES)
    if _local(root) == "HDon":
        return root
    # Some archives wrap the invoice in a tax-authority message (TDiep/DLieu/HDon).
    for element in root.iter():
        if _local(element) == "HDon":
            return element
    raise DocumentError(f"the root element is {_local(root)!r}, not HDon")


def parse_invoice_xml(data: bytes, *, strict: bool = True) -> ParsedInvoice:
    """Read an invoice in the tax authority's XML format (ours or another issuer's).

    Malformed or unsafe input raises :class:`DocumentError`; a missing or invalid
    mandatory field raises :class:`ValidationError` naming its XML path
    (``TTChung.KHHDon``, ``NDHDon.DSHHDVu.HHDVu[3].TSuat``). With ``strict=False``
    (what a verifier of other issuers' files wants) missing totals (``TToan``,
    ``TgTCThue``, ``TgTThue``, ``TgTTTBSo``, ``TgTTTBChu``) do not refuse the document:
    they are listed in ``missing``; anything else still raises.
    """
    root = _parse_tree(data)
    body = _child(root, "DLHDon")
    if body is None:
        raise ValidationError("DLHDon", "is missing")
    general = _child(body, "TTChung")
    if general is None:
        raise ValidationError("TTChung", "is missing")
    content = _child(body, "NDHDon")
    if content is None:
        raise ValidationError("NDHDon", "is missing")

    path = "TTChung"
    head = _fields(general)
    number = _integer(_required(head, "SHDon", path), f"{path}.SHDon")
    draft_data: dict[str, Any] = {
        "template": _required(head, "KHMSHDon", path),
        "series": _required(head, "KHHDon", path),
        "issue_date": _date(_required(head, "NLap", path), f"{path}.NLap"),
    }
    optional: dict[str, str] = {
        "title": "THDon",
        "currency": "DVTTe",
        "payment_method": "HTTToan",
    }
    for field, tag in optional.items():
        value = _text(head, tag)
        if value is not None:
            draft_data[field] = value
    rate = _decimal(_text(head, "TGia"), f"{path}.TGia")
    if rate is not None:
        draft_data["exchange_rate"] = rate

    lookup_code, reference, payment, extra = _general_fields(
        _extras(_child(general, "TTKhac")) + _extras(_child(body, "TTKhac"))
    )
    if reference is not None:
        draft_data["reference"] = reference
    if payment is not None:
        draft_data["payment"] = payment
    draft_data["extra"] = extra
    draft_data["related"] = _related(_child(general, "TTHDLQuan"))

    seller_element = _child(content, "NBan")
    if seller_element is None:
        raise ValidationError("NDHDon.NBan", "is missing")
    seller_fields = _fields(seller_element)
    for tag in ("Ten", "MST", "DChi"):
        _required(seller_fields, tag, "NDHDon.NBan")
    draft_data["seller"] = _xml_model(
        Seller, _party_data(seller_element), "NDHDon.NBan", _PARTY_NAMES
    )
    buyer_element = _child(content, "NMua")
    buyer_data = {} if buyer_element is None else _party_data(buyer_element)
    draft_data["buyer"] = _xml_model(Buyer, buyer_data, "NDHDon.NMua", _PARTY_NAMES)
    draft_data["lines"], line_amounts = _lines(_child(content, "DSHHDVu"))
    missing: list[str] | None = None if strict else []
    totals, in_words = _stated_totals(_child(content, "TToan"), missing)

    draft = _xml_model(InvoiceDraft, draft_data, "", _DRAFT_NAMES)
    if not 1 <= number <= 99_999_999:
        raise ValidationError(f"{path}.SHDon", "must be between 1 and 99999999")

    code = _child(root, "MCCQT")
    seller_signature = _child(_child(root, "DSCKS"), "NBan")
    signed = seller_signature is not None and _child(seller_signature, "Signature") is not None
    return ParsedInvoice(
        draft=draft,
        number=number,
        lookup_code=lookup_code,
        totals=totals,
        amount_in_words=in_words,
        line_amounts=tuple(line_amounts),
        xml_id=body.get("Id") or None,
        version=head.get("PBan"),
        provider_tax_code=head.get("MSTTCGP"),
        tax_authority_code=((code.text or "").strip() or None) if code is not None else None,
        seller_signed=signed,
        missing=tuple(missing or ()),
    )


def _general_fields(
    pairs: list[tuple[str, str]],
) -> tuple[str | None, str | None, PaymentAccount | None, dict[str, str]]:
    """Split TTKhac pairs into lookup code, reference, payee account and the rest."""
    lookup: str | None = None
    reserved: dict[str, str] = {}
    extra: dict[str, str] = {}
    for name, value in pairs:
        if name in RESERVED and name != LOOKUP_CODE_FIELD:
            reserved.setdefault(name, value)
        elif lookup is None and name.strip().casefold() in LOOKUP_ALIASES and value:
            lookup = value
        else:
            extra.setdefault(name, value)
    payment: PaymentAccount | None = None
    if PAYEE_BIN_FIELD in reserved or PAYEE_ACCOUNT_FIELD in reserved:
        data = {
            "bank_bin": reserved.get(PAYEE_BIN_FIELD, ""),
            "account": reserved.get(PAYEE_ACCOUNT_FIELD, ""),
        }
        if PAYEE_NAME_FIELD in reserved:
            data["account_name"] = reserved[PAYEE_NAME_FIELD]
        names = {
            "bank_bin": PAYEE_BIN_FIELD,
            "account": PAYEE_ACCOUNT_FIELD,
            "account_name": PAYEE_NAME_FIELD,
        }
        payment = _xml_model(PaymentAccount, data, "TTChung.TTKhac", names)
    return lookup, reserved.get(REFERENCE_FIELD), payment, extra
