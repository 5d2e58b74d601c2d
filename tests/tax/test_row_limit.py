"""The row limit of a summary table: 5,001 invoices in a month make two tables, 5,000 + 1.

The invoices are recorded in bulk (:func:`evservice.invoices.record_invoices`, the
batch's own numbering and storing step, without rendering the documents nobody
reads here), so the month takes seconds; the tables are built, signed and checked
as ever.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from decimal import Decimal

from lxml import etree

from evservice._context import Context
from evservice.invoices import InvoiceDraft, record_invoices
from evservice.tax import MAX_ROWS, build_summary
from evservice.tax._format import validate_message

from .conftest import REPORT_PERIOD, SELLER_SETTINGS

INVOICES = MAX_ROWS + 1
RATES = ("8%", "10%", "5%", "0%", "KCT")


def _drafts() -> list[InvoiceDraft]:
    base = InvoiceDraft.model_validate(
        {
            "series": "C26TEV",
            "issue_date": date(2026, 11, 1),
            "seller": {
                "name": SELLER_SETTINGS["seller_name"],
                "tax_code": SELLER_SETTINGS["seller_tax_code"],
                "address": SELLER_SETTINGS["seller_address"],
            },
            "buyer": {"person_name": "Nguyễn Văn An", "address": "Hà Nội",
                      "customer_code": "PD000000001"},
            "lines": [{"name": "Tiền điện", "quantity": "1", "unit_price": "1", "vat_rate": "8%"}],
        }
    )  # fmt: skip
    line = base.lines[0]
    return [
        base.model_copy(
            update={
                "reference": f"row-limit-{n}",
                "lines": [
                    line.model_copy(
                        update={"quantity": Decimal(50 + n % 400), "unit_price": Decimal(1984),
                                "vat_rate": RATES[n % len(RATES)]}
                    )
                ],
            }
        )
        for n in range(INVOICES)
    ]  # fmt: skip


def test_one_invoice_past_the_limit_makes_a_second_table_and_totals_hold(tctx: Context) -> None:
    assert MAX_ROWS == 5000
    issued = record_invoices(_drafts(), ctx=tctx)
    assert len(issued) == INVOICES
    expected: dict[str, dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    for invoice in issued:
        for group in invoice.invoice.totals.by_rate:
            expected[group.rate]["before_tax"] += group.amount
            expected[group.rate]["tax"] += group.tax or 0
            expected[group.rate]["payable"] += group.amount + (group.tax or 0)

    build = build_summary(REPORT_PERIOD, ctx=tctx)
    assert [t.sequence for t in build.tables] == [1, 2]
    assert [t.rows for t in build.tables] == [MAX_ROWS, 1]  # one VAT rate a bill: one row
    assert [t.invoices for t in build.tables] == [MAX_ROWS, 1]
    assert all(t.first for t in build.tables)  # both are the month's first report
    xmls = [t.xml_path.read_bytes() for t in build.tables]
    sums: dict[str, dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    numbers = []
    for table, xml in zip(build.tables, xmls, strict=True):
        validate_message(xml, "bthdlieu.xsd")
        root = etree.fromstring(xml)
        assert root.findtext("DLBTHop/TTChung/SBTHDLieu") == str(table.sequence)
        for row in root.iterfind("DLBTHop/NDBTHDLieu/DSDLieu/DLieu"):
            rate = row.findtext("TSuat") or ""
            sums[rate]["before_tax"] += Decimal(row.findtext("TTCThue") or "0")
            sums[rate]["tax"] += Decimal(row.findtext("TgTThue") or "0")
            sums[rate]["payable"] += Decimal(row.findtext("TgTTToan") or "0")
            numbers.append(int(row.findtext("SHDon") or "0"))
    assert sorted(numbers) == list(range(1, INVOICES + 1))  # each invoice once
    assert {r: dict(v) for r, v in sums.items()} == {r: dict(v) for r, v in expected.items()}
    assert sum(v["payable"] for v in sums.values()) == sum(
        i.invoice.totals.payable for i in issued
    )  # the period's total, to the dong

    again = build_summary(REPORT_PERIOD, ctx=tctx)
    assert again.created == ()
    assert again.tables == build.tables
    assert [t.xml_path.read_bytes() for t in again.tables] == xmls
