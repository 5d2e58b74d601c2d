"""The data summary table of e-invoices (form 01/TH-HĐĐT, message ``BTHDLieu``).

A seller that issues invoices without the tax authority's code in electricity,
water or telecoms sends the data of every invoice of a month in summary tables
(Decree 123/2020 art. 22, kept by Decree 70/2025; Circular 78/2021). Shape::

    BTHDLieu
      DLBTHop Id=...
        TTChung  PBan MSo Ten SBTHDLieu LKDLieu(T) KDLieu(MM/YYYY) LDau [BSLThu]
                 NLap TNNT MST HDDIn(0) LHHoa(9)
        NDBTHDLieu/DSDLieu/DLieu*  STT KHMSHDon KHHDon SHDon NLap [TNMua] [MSTNMua]
                 [MKHang] TTCThue TSuat [TgTThue] TgTTToan TThai [LHDCLQuan
                 KHMSHDCLQuan KHHDCLQuan SHDCLQuan] [GChu]
      DSCKS/NNT/Signature

One ``DLieu`` per invoice and VAT rate (the format has one ``TSuat`` per row;
a one-rate bill is one row). ``TThai`` is the row's nature: 0 an original,
2 an adjustment, 3 a replacement, with the corrected invoice named; an
original's later correction is reported by the correcting invoice's own row.
Value 1 (cancelled) is never written: Decree 70/2025 ended cancellation.
Invoices of coded series (``EVSERVICE_TAX_CODED_SERIES``) are left out: they
go to the authority one by one for their code (:mod:`._withcode`).

Tables are numbered per taxpayer and month (``SBTHDLieu``) and hold at most
``max_rows`` rows (an invoice's rows are never split). The first build of a
month is ``LDau`` 1; a later build adds only invoices not reported yet, as the
n-th supplement (``LDau`` 0, ``BSLThu`` n). A build with nothing new adds
nothing and returns the stored tables: the same bytes.
"""

from __future__ import annotations

import calendar
import hashlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from lxml import etree
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from evservice import audit
from evservice._context import Context, resolve
from evservice._files import write_atomically
from evservice.clock import vn_date
from evservice.errors import StoreError, ValidationError
from evservice.invoices import CorrectionKind, IssuedInvoice, list_invoices
from evservice.store import transaction
from evservice.tax._format import XML_VERSION, put, sign_message, taxpayer, validate_message
from evservice.tax._outbox import enqueue
from evservice.tax._tables import TaxPeriodRow, TaxSummaryInvoiceRow, TaxSummaryRow

__all__ = [
    "MAX_ROWS",
    "SummaryBuild",
    "SummaryTable",
    "build_summary",
    "list_summaries",
    "summary_rows",
]

#: Rows per table (Decision 1450/QĐ-TCT: a larger summary is split into several tables).
MAX_ROWS = 5000
_PAGE = 10_000
_FORM = "01/TH-HĐĐT"
_TITLE = "Bảng tổng hợp dữ liệu hóa đơn điện tử"


@dataclass(frozen=True)
class SummaryTable:
    """One stored table: its number in the month, its supplement, where its XML is."""

    id: str
    period: str
    sequence: int
    supplement: int
    rows: int
    invoices: int
    built_on: date
    xml_path: Path
    xml_sha256: str

    @property
    def first(self) -> bool:
        """True for the month's first report (``LDau`` 1)."""
        return self.supplement == 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "period": self.period,
            "sequence": self.sequence,
            "supplement": self.supplement,
            "rows": self.rows,
            "invoices": self.invoices,
            "built_on": self.built_on.isoformat(),
            "xml": str(self.xml_path),
            "xml_sha256": self.xml_sha256,
        }


@dataclass(frozen=True)
class SummaryBuild:
    """What a build did: the tables it added (maybe none) and all tables of the month."""

    period: str
    created: tuple[SummaryTable, ...]
    tables: tuple[SummaryTable, ...]


def _parse_period(text: str) -> tuple[int, int]:
    try:
        year_text, month_text = str(text).strip().split("-")
        year, month = int(year_text), int(month_text)
        date(year, month, 1)
    except ValueError as exc:
        raise ValidationError("period", "must be a month like 2026-11") from exc
    if not 2000 <= year <= 2099:
        raise ValidationError("period", "year must be between 2000 and 2099")
    return year, month


def _period_invoices(year: int, month: int, seller: str, ctx: Context) -> list[IssuedInvoice]:
    first = date(year, month, 1)
    last = date(year, month, calendar.monthrange(year, month)[1])
    found: list[IssuedInvoice] = []
    offset = 0
    while True:
        page = list_invoices(ctx=ctx, issued_from=first, issued_to=last, limit=_PAGE, offset=offset)
        found.extend(
            i
            for i in page
            if i.invoice.draft.seller.tax_code == seller
            # Invoices of a coded series go to the authority one by one (message 200).
            and not ctx.settings.is_coded(i.invoice.draft.template, i.invoice.draft.series)
        )
        if len(page) < _PAGE:
            return found
        offset += _PAGE


def summary_rows(invoice: IssuedInvoice) -> list[dict[str, Any]]:
    """The ``DLieu`` rows of one invoice: one per VAT rate (at least one)."""
    draft = invoice.invoice.draft
    totals = invoice.invoice.totals
    related = draft.related
    status = 0
    if related is not None:
        status = 3 if related.kind is CorrectionKind.REPLACEMENT else 2
    groups = totals.by_rate or ()
    common: dict[str, Any] = {
        "KHMSHDon": draft.template,
        "KHHDon": draft.series,
        "SHDon": invoice.number,
        "NLap": draft.issue_date,
        "TNMua": draft.buyer.name or draft.buyer.person_name,
        "MSTNMua": draft.buyer.tax_code,
        "MKHang": draft.buyer.customer_code,
    }
    rows: list[dict[str, Any]] = []
    for group in groups:
        tax = group.tax
        rows.append(
            {
                **common,
                "TTCThue": group.amount,
                "TSuat": group.rate,
                "TgTThue": tax,
                "TgTTToan": group.amount + (tax or Decimal(0)),
                "TThai": status,
                "related": related,
            }
        )
    if not rows:  # an adjustment of information only: no amounts
        zero = Decimal(0)
        rows.append(
            {**common, "TTCThue": zero, "TSuat": "KKKNT", "TgTThue": None, "TgTTToan": zero,
             "TThai": status, "related": related}
        )  # fmt: skip
    return rows


def _xml_rows(parent: etree._Element, rows: Sequence[dict[str, Any]], start: int) -> None:
    for n, row in enumerate(rows, start=start):
        item = etree.SubElement(parent, "DLieu")
        put(item, "STT", n)
        for tag in ("KHMSHDon", "KHHDon"):
            put(item, tag, row[tag])
        put(item, "SHDon", f"{row['SHDon']}")
        for tag in ("NLap", "TNMua", "MSTNMua", "MKHang", "TTCThue", "TSuat", "TgTThue"):
            put(item, tag, row[tag])
        put(item, "TgTTToan", row["TgTTToan"])
        put(item, "TThai", row["TThai"])
        related = row["related"]
        if related is not None:
            put(item, "LHDCLQuan", related.invoice_type)
            put(item, "KHMSHDCLQuan", related.template)
            put(item, "KHHDCLQuan", related.series)
            put(item, "SHDCLQuan", related.number)
            put(item, "GChu", related.note)


def render_summary(
    *,
    table_id: str,
    year: int,
    month: int,
    sequence: int,
    supplement: int,
    built_on: date,
    tax_code: str,
    name: str,
    rows: Sequence[dict[str, Any]],
) -> etree._Element:
    """The unsigned ``BTHDLieu`` element of one table."""
    root = etree.Element("BTHDLieu")
    content = etree.SubElement(root, "DLBTHop", Id=table_id)
    general = etree.SubElement(content, "TTChung")
    put(general, "PBan", XML_VERSION)
    put(general, "MSo", _FORM)
    put(general, "Ten", _TITLE)
    put(general, "SBTHDLieu", sequence)
    put(general, "LKDLieu", "T")
    put(general, "KDLieu", f"{month:02d}/{year}")
    put(general, "LDau", 1 if supplement == 0 else 0)
    if supplement:
        put(general, "BSLThu", supplement)
    put(general, "NLap", built_on)
    put(general, "TNNT", name)
    put(general, "MST", tax_code)
    put(general, "HDDIn", 0)
    put(general, "LHHoa", 9)
    body = etree.SubElement(etree.SubElement(content, "NDBTHDLieu"), "DSDLieu")
    _xml_rows(body, rows, 1)
    signatures = etree.SubElement(root, "DSCKS")
    etree.SubElement(signatures, "NNT")
    return root


def _chunks(
    invoices: Sequence[IssuedInvoice], max_rows: int
) -> Iterator[list[tuple[IssuedInvoice, list[dict[str, Any]]]]]:
    chunk: list[tuple[IssuedInvoice, list[dict[str, Any]]]] = []
    size = 0
    for invoice in invoices:
        rows = summary_rows(invoice)
        if chunk and size + len(rows) > max_rows:
            yield chunk
            chunk, size = [], 0
        chunk.append((invoice, rows))
        size += len(rows)
    if chunk:
        yield chunk


def _to_table(row: TaxSummaryRow, ctx: Context) -> SummaryTable:
    return SummaryTable(
        id=row.id,
        period=row.period,
        sequence=row.sequence,
        supplement=row.supplement,
        rows=row.rows,
        invoices=row.invoices,
        built_on=row.built_on,
        xml_path=ctx.data_dir / row.xml_path,
        xml_sha256=row.xml_sha256,
    )


def _lock_period(session: Session, tax_code: str, period: str) -> TaxPeriodRow:
    query = select(TaxPeriodRow).where(
        TaxPeriodRow.taxpayer == tax_code, TaxPeriodRow.period == period
    )
    counter = session.exec(query.with_for_update()).first()
    if counter is None:
        counter = TaxPeriodRow(taxpayer=tax_code, period=period)
        session.add(counter)
        session.flush()
    return counter


def _stored(session: Session, tax_code: str, period: str) -> list[TaxSummaryRow]:
    query = (
        select(TaxSummaryRow)
        .where(TaxSummaryRow.taxpayer == tax_code, TaxSummaryRow.period == period)
        .order_by(col(TaxSummaryRow.sequence))
    )
    return list(session.exec(query).all())


def _reported(session: Session, summary_ids: Sequence[str]) -> set[str]:
    if not summary_ids:
        return set()
    query = select(TaxSummaryInvoiceRow.invoice_id).where(
        col(TaxSummaryInvoiceRow.summary_id).in_(summary_ids)
    )
    return set(session.exec(query).all())


def build_summary(
    period: str, *, ctx: Context | None = None, max_rows: int = MAX_ROWS
) -> SummaryBuild:
    """Build, sign and store the month's tables of invoices not reported yet.

    Each table is checked against ``bthdlieu.xsd``, written to
    ``data_dir/tax/summaries/<period>/<id>.xml``, recorded with one audit event
    (``tax.summary.built``) and queued for the tax authority (message 400, see
    :func:`send_pending`) in the same transaction as its rows. Run it again:
    only invoices issued (or corrected) since are added, as a supplement.
    """
    ctx = resolve(ctx)
    if not 1 <= max_rows <= 999_999:
        raise ValidationError("max_rows", "must be between 1 and 999999")
    year, month = _parse_period(period)
    key = f"{year:04d}-{month:02d}"
    tax_code, name = taxpayer(ctx)
    invoices = _period_invoices(year, month, tax_code, ctx)
    now = ctx.clock.now()
    built_on = vn_date(now)
    created: list[SummaryTable] = []
    try:
        with transaction(ctx.engine) as session:
            counter = _lock_period(session, tax_code, key)
            stored = _stored(session, tax_code, key)
            reported = _reported(session, [t.id for t in stored])
            fresh = [i for i in invoices if i.row_id not in reported]
            if fresh:
                supplement = 0 if counter.last_sequence == 0 else counter.supplements + 1
                for chunk in _chunks(fresh, max_rows):
                    counter.last_sequence += 1
                    created.append(
                        _store_table(
                            session, ctx, chunk,
                            tax_code=tax_code, name=name, year=year, month=month,
                            sequence=counter.last_sequence, supplement=supplement,
                            built_on=built_on, now=now,
                        )
                    )  # fmt: skip
                counter.supplements = supplement
                session.add(counter)
            stored = _stored(session, tax_code, key)
    except IntegrityError as exc:
        raise StoreError(f"another build of {key} ran at the same time; run it again") from exc
    tables = tuple(_to_table(row, ctx) for row in stored)
    return SummaryBuild(period=key, created=tuple(created), tables=tables)


def _store_table(
    session: Session,
    ctx: Context,
    chunk: list[tuple[IssuedInvoice, list[dict[str, Any]]]],
    *,
    tax_code: str,
    name: str,
    year: int,
    month: int,
    sequence: int,
    supplement: int,
    built_on: date,
    now: datetime,
) -> SummaryTable:
    table_id = f"BTH{tax_code.replace('-', '')}{year:04d}{month:02d}{sequence:05d}"
    rows = [row for _, invoice_rows in chunk for row in invoice_rows]
    root = render_summary(
        table_id=table_id, year=year, month=month, sequence=sequence,
        supplement=supplement, built_on=built_on, tax_code=tax_code, name=name, rows=rows,
    )  # fmt: skip
    signed = sign_message(root, "DLBTHop", ctx, now)
    validate_message(signed, "bthdlieu.xsd")
    relative = Path("tax") / "summaries" / f"{year:04d}-{month:02d}" / f"{table_id}.xml"
    path = ctx.data_dir / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomically(path, signed)
    sha = hashlib.sha256(signed).hexdigest()
    row = TaxSummaryRow(
        id=table_id, taxpayer=tax_code, period=f"{year:04d}-{month:02d}", sequence=sequence,
        supplement=supplement, rows=len(rows), invoices=len(chunk), built_on=built_on,
        signed_at=now, xml_path=relative.as_posix(), xml_sha256=sha,
    )  # fmt: skip
    session.add(row)
    session.flush()
    position = 1
    for invoice, invoice_rows in chunk:
        session.add(
            TaxSummaryInvoiceRow(invoice_id=invoice.row_id, summary_id=table_id, position=position)
        )
        position += len(invoice_rows)
    session.flush()
    audit.record(
        session,
        type="tax.summary.built",
        subject=table_id,
        actor="system",
        at=now,
        data={
            "period": row.period,
            "sequence": sequence,
            "supplement": supplement,
            "rows": len(rows),
            "invoices": len(chunk),
            "xml_sha256": sha,
        },
    )
    enqueue(session, kind="400", subject_id=table_id, signed=signed, tax_code=tax_code, ctx=ctx)
    return _to_table(row, ctx)


def list_summaries(period: str | None = None, *, ctx: Context | None = None) -> list[SummaryTable]:
    """Stored tables, of one month or all, in month and number order."""
    ctx = resolve(ctx)
    query = select(TaxSummaryRow)
    if period is not None:
        year, month = _parse_period(period)
        query = query.where(TaxSummaryRow.period == f"{year:04d}-{month:02d}")
    query = query.order_by(col(TaxSummaryRow.period), col(TaxSummaryRow.sequence))
    with transaction(ctx.engine) as session:
        rows = session.exec(query).all()
    return [_to_table(r, ctx) for r in rows]
