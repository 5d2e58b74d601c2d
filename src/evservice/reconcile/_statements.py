"""Bank statements in: ISO 20022 camt.053 / camt.054 and CSV, as :class:`BankTransaction`.

camt is read with lxml by the schema's element names (``BkToCstmrStmt/Stmt/Ntry``
in camt.053, ``BkToCstmrDbtCdtNtfctn/Ntfctn/Ntry`` in camt.054; any version
``camt.05x.001.NN`` since the names we read are the same in .02 and .08, except
``Sts`` gaining a ``Cd`` child and ``Dbtr`` a ``Pty`` level, both handled). Only
booked credits in VND become transactions; debits, pending or reversed entries
and foreign currencies are counted in ``skipped`` with the reason. Each
``TxDtls`` of an entry is one transfer; the bank's id of it is the first of
``TxDtls/Refs/AcctSvcrRef``, ``TxId``, ``EndToEndId`` (not ``NOTPROVIDED``), the
entry's ``AcctSvcrRef`` or ``NtryRef``, else the statement id with the entry's
position (stable when the same statement is imported again).

The XML parser is the one our invoice parser uses: no DTD, no entities, no
network, lxml's own limits (``huge_tree`` off), and a size limit in bytes.
"""

from __future__ import annotations

import csv
import hashlib
import io
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation

from lxml import etree

from evservice._xmlsafe import parse_untrusted_xml
from evservice.errors import DocumentError, ValidationError

__all__ = [
    "MAX_STATEMENT_BYTES",
    "BankTransaction",
    "CsvColumns",
    "Statement",
    "read_camt",
    "read_csv_statement",
    "read_statement",
]

#: Largest statement file read (about 300,000 camt entries).
MAX_STATEMENT_BYTES = 256 * 1024 * 1024
_CAMT_NS = "urn:iso:std:iso:20022:tech:xsd:camt.05"
_CONTAINERS = {
    "BkToCstmrStmt": "Stmt",
    "BkToCstmrDbtCdtNtfctn": "Ntfctn",
    "BkToCstmrAcctRpt": "Rpt",
}


@dataclass(frozen=True, slots=True)
class BankTransaction:
    """One incoming transfer as the bank reports it (amount in whole dong, positive).

    ``account`` is our account it was paid into; ``bank_ref`` the bank's id of
    the transfer; ``memo`` the free text (remittance information) the payer
    typed or their app filled in from the QR; ``customer_hint`` a customer id
    when the source names one (a CSV column, a webhook field).
    """

    bank_ref: str
    amount: Decimal
    booked_on: date
    memo: str = ""
    account: str = ""
    payer_name: str | None = None
    customer_hint: str | None = None
    source: str = "manual"

    def __post_init__(self) -> None:
        if not isinstance(self.bank_ref, str) or not self.bank_ref.strip():
            raise ValidationError("bank_ref", "is required (the bank's id of the transfer)")
        if len(self.bank_ref) > 100:
            raise ValidationError("bank_ref", "is longer than 100 characters")
        if not isinstance(self.amount, Decimal) or not self.amount.is_finite():
            raise ValidationError("amount", "must be a Decimal")
        if self.amount <= 0 or self.amount != self.amount.to_integral_value():
            raise ValidationError("amount", "must be a positive whole number of dong")
        if self.amount >= 10**15:
            raise ValidationError("amount", "is beyond 10^15 dong")
        if not isinstance(self.booked_on, date):
            raise ValidationError("booked_on", "must be a date")

    @property
    def key(self) -> str:
        """The store's key of this transfer: SHA-256 of account and bank id (40 hex)."""
        raw = f"{self.account.strip()}\x1f{self.bank_ref.strip()}".encode()
        return hashlib.sha256(raw).hexdigest()[:40]


@dataclass(frozen=True, slots=True)
class Statement:
    """What a statement file gave: the credits, and what was skipped (where, why)."""

    transactions: list[BankTransaction]
    skipped: list[tuple[str, str]] = field(default_factory=list)
    format: str = ""


# -- camt -------------------------------------------------------------------------------


def _local(element: etree._Element) -> str:
    tag = element.tag
    return etree.QName(tag).localname if isinstance(tag, str) else ""


def _child(element: etree._Element | None, *path: str) -> etree._Element | None:
    for name in path:
        if element is None:
            return None
        element = next((c for c in element if _local(c) == name), None)
    return element


def _children(element: etree._Element | None, name: str) -> list[etree._Element]:
    return [] if element is None else [c for c in element if _local(c) == name]


def _text(element: etree._Element | None, *path: str) -> str | None:
    found = _child(element, *path)
    if found is None or found.text is None:
        return None
    text = " ".join(found.text.split())
    return text or None


def _parse_xml(data: bytes) -> etree._Element:
    return parse_untrusted_xml(data, what="statement XML", max_bytes=MAX_STATEMENT_BYTES)


def _date(element: etree._Element | None) -> date | None:
    text = _text(element, "Dt") or _text(element, "DtTm")
    if text is None:
        return None
    try:
        return date.fromisoformat(text[:10])
    except ValueError:
        return None


def _party_name(tx: etree._Element) -> str | None:
    debtor = _child(tx, "RltdPties", "Dbtr")
    return _text(debtor, "Pty", "Nm") or _text(debtor, "Nm")


def _memo(tx: etree._Element | None) -> str:
    info = _child(tx, "RmtInf")
    parts = [" ".join((u.text or "").split()) for u in _children(info, "Ustrd")]
    for structured in _children(info, "Strd"):
        ref = _text(structured, "CdtrRefInf", "Ref")
        if ref:
            parts.append(ref)
    parts += [t for t in (_text(tx, "AddtlTxInf"),) if t]
    return " ".join(p for p in parts if p)[:500]


def _tx_ref(tx: etree._Element | None) -> str | None:
    refs = _child(tx, "Refs")
    for name in ("AcctSvcrRef", "TxId", "EndToEndId"):
        value = _text(refs, name)
        if value and value.upper() != "NOTPROVIDED":
            return value
    return None


def _amount(element: etree._Element | None) -> tuple[Decimal, str] | None:
    if element is None or element.text is None:
        return None
    try:
        value = Decimal(element.text.strip())
    except InvalidOperation:
        return None
    return value, str(element.get("Ccy", ""))


def _entry_status(entry: etree._Element) -> str:
    return (_text(entry, "Sts", "Cd") or _text(entry, "Sts") or "").upper()


def _account(report: etree._Element) -> str:
    acct = _child(report, "Acct", "Id")
    return _text(acct, "IBAN") or _text(acct, "Othr", "Id") or ""


def _entry_transactions(
    entry: etree._Element, where: str, account: str, report_id: str, source: str
) -> Iterator[BankTransaction | tuple[str, str]]:
    """The transfers of one ``Ntry`` (or why it is skipped), one per ``TxDtls``."""
    if (_text(entry, "CdtDbtInd") or "").upper() != "CRDT":
        yield where, "not a credit"
        return
    if _entry_status(entry) not in ("BOOK", ""):
        yield where, f"status {_entry_status(entry)}, not booked"
        return
    if (_text(entry, "RvslInd") or "").lower() == "true":
        yield where, "a reversal"
        return
    booked = _date(_child(entry, "BookgDt")) or _date(_child(entry, "ValDt"))
    if booked is None:
        yield where, "no booking date"
        return
    details = [tx for d in _children(entry, "NtryDtls") for tx in _children(d, "TxDtls")]
    entry_amount = _amount(_child(entry, "Amt"))
    entry_ref = _text(entry, "AcctSvcrRef") or _text(entry, "NtryRef")
    for i, tx in enumerate(details or [None]):
        at = f"{where}.TxDtls[{i}]" if details else where
        amount = (
            _amount(_child(tx, "Amt"))
            or _amount(_child(tx, "AmtDtls", "TxAmt", "Amt"))
            or (entry_amount if len(details) <= 1 else None)
        )
        if amount is None:
            yield at, "no amount"
            continue
        if amount[1] != "VND":
            yield at, f"currency {amount[1] or 'missing'}, not VND"
            continue
        ref = _tx_ref(tx) or (
            entry_ref if len(details) <= 1 else (f"{entry_ref}/{i}" if entry_ref else None)
        )
        try:
            yield BankTransaction(
                bank_ref=ref or f"{report_id}/{where}/{i}",
                amount=amount[0],
                booked_on=booked,
                memo=_memo(tx) if tx is not None else "",
                account=account,
                payer_name=_party_name(tx) if tx is not None else None,
                source=source,
            )
        except ValidationError as exc:
            yield at, f"{exc.field}: {exc.reason}"


def read_camt(data: bytes) -> Statement:
    """The booked VND credits of a camt.053 statement or camt.054 notification."""
    root = _parse_xml(data)
    namespace = etree.QName(root).namespace or ""
    if _local(root) != "Document" or not namespace.startswith(_CAMT_NS):
        raise DocumentError("not an ISO 20022 camt.05x Document")
    kind = namespace.rsplit(":", 1)[-1]  # camt.053.001.08
    container = next((c for c in root if _local(c) in _CONTAINERS), None)
    if container is None:
        raise DocumentError(f"{kind}: no BkToCstmrStmt or BkToCstmrDbtCdtNtfctn inside Document")
    source = kind[:8]
    transactions: list[BankTransaction] = []
    skipped: list[tuple[str, str]] = []
    for r, report in enumerate(_children(container, _CONTAINERS[_local(container)])):
        account = _account(report)
        report_id = _text(report, "Id") or f"{_local(container)}[{r}]"
        for n, entry in enumerate(_children(report, "Ntry")):
            where = f"{_CONTAINERS[_local(container)]}[{r}].Ntry[{n}]"
            for item in _entry_transactions(entry, where, account, report_id, source):
                if isinstance(item, BankTransaction):
                    transactions.append(item)
                else:
                    skipped.append(item)
    return Statement(transactions, skipped, kind)


# -- CSV --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CsvColumns:
    """Which header names a bank's CSV export uses, and how it writes dates and amounts.

    ``amount`` holds signed amounts (negative = debit) unless ``credit_debit``
    names a column whose value starts with C/D (or ``+``/``-``). ``thousands``
    and ``decimal`` are the separators of the amounts (``1.250.000`` is
    ``thousands="."``, ``decimal=","``).
    """

    bank_ref: str = "transaction_id"
    booked_on: str = "date"
    amount: str = "amount"
    memo: str = "description"
    account: str | None = None
    payer_name: str | None = None
    customer: str | None = None
    credit_debit: str | None = None
    currency: str | None = None
    date_format: str = "%Y-%m-%d"
    delimiter: str = ","
    thousands: str = ""
    decimal: str = "."
    encoding: str = "utf-8-sig"


def _csv_amount(text: str, columns: CsvColumns) -> Decimal:
    cleaned = text.strip().replace(" ", "")
    if columns.thousands:
        cleaned = cleaned.replace(columns.thousands, "")
    if columns.decimal != ".":
        cleaned = cleaned.replace(columns.decimal, ".")
    try:
        value = Decimal(cleaned)
    except InvalidOperation as exc:
        raise ValidationError("amount", f"{text[:30]!r} is not a number") from exc
    if not value.is_finite():
        raise ValidationError("amount", "is not a finite number")
    return value


def _csv_row(row: dict[str, str], columns: CsvColumns, default_account: str) -> BankTransaction:
    def cell(name: str | None) -> str:
        return (row.get(name) or "").strip() if name else ""

    amount = _csv_amount(cell(columns.amount), columns)
    if columns.credit_debit:
        marker = cell(columns.credit_debit)[:1].upper()
        if marker in ("D", "-"):
            amount = -abs(amount)
    if amount <= 0:
        raise ValidationError("amount", "not a credit")
    if columns.currency and cell(columns.currency).upper() not in ("", "VND"):
        raise ValidationError("currency", f"{cell(columns.currency)[:5]}, not VND")
    try:
        booked = datetime.strptime(cell(columns.booked_on), columns.date_format).date()
    except ValueError as exc:
        raise ValidationError("booked_on", f"not a date like {columns.date_format}") from exc
    return BankTransaction(
        bank_ref=cell(columns.bank_ref),
        amount=amount,
        booked_on=booked,
        memo=cell(columns.memo)[:500],
        account=cell(columns.account) or default_account,
        payer_name=cell(columns.payer_name) or None,
        customer_hint=cell(columns.customer) or None,
        source="csv",
    )


def read_csv_statement(
    data: bytes | str, columns: CsvColumns | None = None, *, account: str = ""
) -> Statement:
    """The credits of a CSV statement; rows that are debits or malformed go to ``skipped``."""
    columns = columns or CsvColumns()
    if isinstance(data, bytes | bytearray):
        if len(data) > MAX_STATEMENT_BYTES:
            raise DocumentError(f"the statement is larger than {MAX_STATEMENT_BYTES} bytes")
        try:
            data = bytes(data).decode(columns.encoding)
        except (UnicodeDecodeError, LookupError) as exc:
            raise DocumentError(f"the CSV statement is not {columns.encoding} text") from exc
    if not isinstance(data, str):
        raise DocumentError("the CSV statement must be bytes or text")
    try:
        reader = csv.DictReader(io.StringIO(data, newline=""), delimiter=columns.delimiter)
        header = reader.fieldnames or []
        needed = [columns.bank_ref, columns.booked_on, columns.amount]
        missing = [name for name in needed if name not in header]
        if missing:
            raise ValidationError("columns", f"the CSV has no column {', '.join(missing)}")
        transactions: list[BankTransaction] = []
        skipped: list[tuple[str, str]] = []
        for line, row in enumerate(reader, start=2):
            try:
                transactions.append(_csv_row(row, columns, account))
            except ValidationError as exc:
                skipped.append((f"line {line}", f"{exc.field}: {exc.reason}"))
    except csv.Error as exc:
        raise DocumentError(f"the CSV statement is malformed: {exc}") from exc
    return Statement(transactions, skipped, "csv")


def read_statement(data: bytes, columns: CsvColumns | None = None) -> Statement:
    """camt (XML) or CSV, told apart by the first non-blank byte."""
    if not isinstance(data, bytes | bytearray):
        raise DocumentError("the statement must be given as bytes")
    head = bytes(data[:200]).lstrip(b"\xef\xbb\xbf \t\r\n")
    if head.startswith(b"<"):
        return read_camt(bytes(data))
    return read_csv_statement(bytes(data), columns)


def transactions_of(items: Iterable[BankTransaction] | Statement) -> Sequence[BankTransaction]:
    """The transactions of a statement, or the given ones as a list."""
    return items.transactions if isinstance(items, Statement) else list(items)
