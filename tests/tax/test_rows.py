"""A table's rows of one invoice: one per VAT rate, summing to the invoice's totals; XSD-valid."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree

from evservice.invoices import Invoice, InvoiceDraft, IssuedInvoice
from evservice.tax import summary_rows
from evservice.tax._format import validate_message
from evservice.tax._summary import render_summary

RATES = ["0%", "5%", "8%", "10%", "KCT", "KKKNT", "KHAC:3.5%"]

lines = st.lists(
    st.tuples(
        st.sampled_from(RATES),
        st.integers(min_value=1, max_value=10_000),
        st.integers(min_value=0, max_value=5_000_000),
    ),
    min_size=1,
    max_size=6,
)


def _issued(items: list[tuple[str, int, int]], buyer_tax_code: str | None) -> IssuedInvoice:
    buyer: dict[str, object] = {"customer_code": "PD000000001", "address": "Hà Nội"}
    if buyer_tax_code:
        buyer |= {"name": "Công ty TNHH Một Thành Viên", "tax_code": buyer_tax_code}
    else:
        buyer |= {"person_name": "Nguyễn Văn An"}
    draft = InvoiceDraft.model_validate(
        {
            "series": "K26TEV",
            "issue_date": date(2026, 11, 3),
            "seller": {"name": "Điện lực", "tax_code": "0100101114", "address": "Hà Nội"},
            "buyer": buyer,
            "lines": [
                {"name": f"Dòng {n}", "quantity": str(q), "unit_price": str(p), "vat_rate": r}
                for n, (r, q, p) in enumerate(items)
            ],
        }
    )
    invoice = Invoice(
        id=uuid.uuid4(), draft=draft, number=7, lookup_code="7KQ4-MZ2X-9HTQ",
        issued_at=datetime(2026, 11, 3, 2, tzinfo=UTC),
    )  # fmt: skip
    return IssuedInvoice(invoice, None, None, None, None)


@settings(max_examples=60, deadline=None)
@given(items=lines, company=st.booleans())
def test_rows_sum_to_the_invoice_and_the_table_is_valid(
    items: list[tuple[str, int, int]], company: bool
) -> None:
    issued = _issued(items, "0101243150" if company else None)
    rows = summary_rows(issued)
    totals = issued.invoice.totals
    assert [r["TSuat"] for r in rows] == [g.rate for g in totals.by_rate]
    assert sum((r["TTCThue"] for r in rows), Decimal(0)) == totals.before_tax
    assert sum((r["TgTThue"] or Decimal(0) for r in rows), Decimal(0)) == totals.tax
    assert sum((r["TgTTToan"] for r in rows), Decimal(0)) == totals.payable
    assert all(r["TThai"] == 0 for r in rows)
    root = render_summary(
        table_id="BTH1", year=2026, month=11, sequence=1, supplement=0,
        built_on=date(2026, 12, 1), tax_code="0100101114", name="Điện lực", rows=rows,
    )  # fmt: skip
    validate_message(etree.tostring(root), "bthdlieu.xsd")
    buyer = root.findtext("DLBTHop/NDBTHDLieu/DSDLieu/DLieu/MSTNMua")
    assert buyer == ("0101243150" if company else None)
