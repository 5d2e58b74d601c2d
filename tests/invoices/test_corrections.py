"""Replacement and adjustment invoices: related block, statuses, rules, history."""

from __future__ import annotations

import hashlib
import threading
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa

from evservice._context import Context
from evservice.errors import LifecycleError, SeriesOrderError, ValidationError
from evservice.invoices import (
    CorrectionKind,
    InvoiceDraft,
    InvoiceStatus,
    IssuedInvoice,
    adjust,
    get,
    history,
    issue,
    parse_invoice_xml,
    replace,
)
from evservice.invoices._tables import InvoiceRow

SELLER = {"name": "Công ty Điện lực Hải Dương", "tax_code": "0100100079", "address": "Hải Dương"}
DAY = date(2026, 10, 20)


def draft(reference: str, *lines: tuple[str, str, str], **changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "series": "C26TAA",
        "issue_date": DAY.isoformat(),
        "reference": reference,
        "seller": SELLER,
        "buyer": {"person_name": "Trần Văn Bình", "customer_code": "PA02000077"},
        "lines": [
            {"name": name, "unit": "kWh", "quantity": q, "unit_price": p, "vat_rate": "8%"}
            for name, q, p in (lines or [("Điện bậc 1", "50", "1984")])
        ],
    }
    data.update(changes)
    return data


def stored(ctx: Context, invoice_id: str) -> dict[str, Any]:
    with ctx.engine.connect() as conn:
        row = conn.execute(
            sa.select(InvoiceRow).where(InvoiceRow.id == invoice_id)  # type: ignore[arg-type]
        ).one()
    return dict(row._mapping)


def test_replace_fills_related_and_marks_the_original(ctx: Context) -> None:
    original = issue(draft("bill-1"), ctx=ctx)
    before = stored(ctx, original.row_id)
    new = replace(
        original.lookup_code,
        draft("bill-1-r", ("Điện bậc 1", "48", "1984"), issue_date="2026-10-25"),
        reason="Sai chỉ số công tơ",
        ctx=ctx,
    )
    related = new.invoice.draft.related
    assert related is not None
    assert related.kind is CorrectionKind.REPLACEMENT
    assert (related.template, related.series, related.number) == ("1", "C26TAA", 1)
    assert related.issue_date == DAY
    assert related.note == "Sai chỉ số công tơ"
    assert new.number == 2
    assert new.corrects_id == original.row_id
    assert new.status is InvoiceStatus.ISSUED

    after = stored(ctx, original.row_id)
    assert after["status"] == "replaced"
    assert {k: v for k, v in after.items() if k != "status"} == {
        k: v for k, v in before.items() if k != "status"
    }  # nothing else of the original changes
    assert original.xml_path is not None
    assert hashlib.sha256(original.xml_path.read_bytes()).hexdigest() == original.xml_sha256
    assert get(original.row_id, ctx=ctx).status is InvoiceStatus.REPLACED

    assert new.xml_path is not None
    parsed = parse_invoice_xml(new.xml_path.read_bytes())
    assert parsed.draft.related == related


def test_a_replaced_invoice_cannot_be_corrected_again(ctx: Context) -> None:
    original = issue(draft("bill-1"), ctx=ctx)
    replace(original.row_id, draft("bill-1-r"), reason="Sai tên", ctx=ctx)
    with pytest.raises(LifecycleError) as info:
        replace(original.row_id, draft("bill-1-r2"), reason="Lại sai", ctx=ctx)
    assert (info.value.current, info.value.wanted) == ("replaced", "replaced")
    with pytest.raises(LifecycleError):
        adjust(original.row_id, draft("bill-1-a"), reason="Điều chỉnh", ctx=ctx)
    assert len(history(original.row_id, ctx=ctx)) == 2  # the refused ones left nothing


def test_adjustments_go_up_or_down_and_may_repeat(ctx: Context) -> None:
    original = issue(draft("bill-2", ("Điện bậc 1", "50", "1984")), ctx=ctx)
    down = adjust(
        original.label,
        draft("bill-2-a1", ("Điều chỉnh giảm điện bậc 1", "-10", "1984")),
        reason="Ghi thừa 10 kWh",
        ctx=ctx,
    )
    assert down.invoice.totals.payable == Decimal(-21_427)  # -19,840 and -1,587 VAT
    assert down.invoice.draft.related is not None
    assert down.invoice.draft.related.kind is CorrectionKind.ADJUSTMENT
    assert get(original.row_id, ctx=ctx).status is InvoiceStatus.ADJUSTED

    up = adjust(
        original.row_id,
        draft("bill-2-a2", ("Điều chỉnh tăng", "3", "1984")),
        reason="Bổ sung 3 kWh",
        ctx=ctx,
    )
    assert up.invoice.totals.payable > 0
    assert get(original.row_id, ctx=ctx).status is InvoiceStatus.ADJUSTED
    # An adjusted invoice is amended, not superseded: no replacement any more.
    with pytest.raises(LifecycleError):
        replace(original.row_id, draft("bill-2-r"), reason="Thay thế", ctx=ctx)


def test_negative_amounts_only_on_adjustments(ctx: Context) -> None:
    with pytest.raises(ValidationError, match="negative"):
        issue(draft("neg", ("Điện", "-10", "1984")), ctx=ctx)
    original = issue(draft("bill-3"), ctx=ctx)
    with pytest.raises(ValidationError, match="negative"):
        replace(original.row_id, draft("bill-3-r", ("Điện", "-10", "1984")), reason="x", ctx=ctx)
    assert get(original.row_id, ctx=ctx).status is InvoiceStatus.ISSUED


def test_history_lists_the_chain_from_any_member(ctx: Context) -> None:
    first = issue(draft("c-1"), ctx=ctx)
    issue(draft("unrelated"), ctx=ctx)
    a1 = adjust(first.row_id, draft("c-1-a1", ("Tăng", "1", "1984")), reason="một", ctx=ctx)
    a2 = adjust(first.row_id, draft("c-1-a2", ("Tăng", "2", "1984")), reason="hai", ctx=ctx)
    r = replace(a1.row_id, draft("c-1-a1-r", ("Tăng", "1", "2050")), reason="sai giá", ctx=ctx)
    expected = [first.row_id, a1.row_id, a2.row_id, r.row_id]
    for member in (first, a1, a2, r):
        chain = history(member.lookup_code, ctx=ctx)
        assert [i.row_id for i in chain] == expected
    assert [i.status for i in history(first.row_id, ctx=ctx)] == [
        InvoiceStatus.ADJUSTED,
        InvoiceStatus.REPLACED,
        InvoiceStatus.ISSUED,
        InvoiceStatus.ISSUED,
    ]
    assert [i.row_id for i in history("1C26TAA-00000002", ctx=ctx)] == [
        get("1C26TAA-00000002", ctx=ctx).row_id
    ]


def test_correction_is_idempotent_by_reference(ctx: Context) -> None:
    original = issue(draft("bill-4"), ctx=ctx)
    other = issue(draft("bill-5"), ctx=ctx)
    first = replace(original.row_id, draft("bill-4-r"), reason="Sai", ctx=ctx)
    again = replace(original.row_id, draft("bill-4-r"), reason="Sai", ctx=ctx)
    assert again.row_id == first.row_id
    assert not again.created
    with pytest.raises(ValidationError) as info:
        replace(other.row_id, draft("bill-4-r"), reason="Sai", ctx=ctx)
    assert info.value.field == "reference"
    with pytest.raises(ValidationError) as info:  # an ordinary invoice's reference
        adjust(other.row_id, draft("bill-4"), reason="x", ctx=ctx)
    assert info.value.field == "reference"
    assert get(other.row_id, ctx=ctx).status is InvoiceStatus.ISSUED


@pytest.mark.parametrize(
    ("changes", "reason", "field"),
    [
        ({"seller": {**SELLER, "tax_code": "0100109106"}}, "Sai", "seller.tax_code"),
        ({"issue_date": "2026-10-19"}, "Sai", "issue_date"),
        ({}, "   ", "reason"),
        ({}, "x" * 256, "reason"),
        ({"related": "1C26TAA-00000001"}, "Sai", "related"),
    ],
)
def test_bad_corrections_name_the_field(
    sqlite_ctx: Context, changes: dict[str, Any], reason: str, field: str
) -> None:
    original = issue(draft("bill-6"), ctx=sqlite_ctx)
    with pytest.raises(ValidationError) as info:
        replace(original.row_id, draft("bill-6-r", **changes), reason=reason, ctx=sqlite_ctx)
    assert info.value.field == field
    assert get(original.row_id, ctx=sqlite_ctx).status is InvoiceStatus.ISSUED


def test_a_failed_correction_leaves_the_original_untouched(ctx: Context) -> None:
    original = issue(draft("bill-7"), ctx=ctx)
    issue(draft("later", issue_date="2026-10-30"), ctx=ctx)
    # Numbers follow dates: the series' last date is the 30th, so the 25th is refused,
    # and the original's status change is rolled back with it.
    with pytest.raises(SeriesOrderError):
        replace(original.row_id, draft("bill-7-r", issue_date="2026-10-25"), reason="x", ctx=ctx)
    assert get(original.row_id, ctx=ctx).status is InvoiceStatus.ISSUED
    fixed = replace(
        original.row_id, draft("bill-7-r", issue_date="2026-10-30"), reason="x", ctx=ctx
    )
    assert fixed.number == 3


def test_a_draft_object_works_too(ctx: Context) -> None:
    original = issue(draft("bill-8"), ctx=ctx)
    new = adjust(
        original.row_id,
        InvoiceDraft.model_validate(draft("bill-8-a", ("Tăng", "1", "1984"))),
        reason="Bổ sung",
        ctx=ctx,
    )
    assert new.invoice.draft.related is not None
    assert new.invoice.draft.related.number == original.number


def test_concurrent_replacements_of_one_invoice_let_one_win(ctx: Context) -> None:
    original = issue(draft("bill-9"), ctx=ctx)
    barrier = threading.Barrier(4)
    outcomes: list[IssuedInvoice | Exception] = []
    lock = threading.Lock()

    def run(i: int) -> None:
        barrier.wait()
        try:
            result: IssuedInvoice | Exception = replace(
                original.row_id, draft(f"bill-9-r{i}"), reason="Sai", ctx=ctx
            )
        except Exception as exc:  # collected below
            result = exc
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    winners = [o for o in outcomes if isinstance(o, IssuedInvoice)]
    losers = [o for o in outcomes if not isinstance(o, IssuedInvoice)]
    assert len(winners) == 1
    assert len(losers) == 3
    assert all(isinstance(o, LifecycleError) for o in losers), losers
    assert winners[0].number == 2  # the losers' numbers were given back
    assert len(history(original.row_id, ctx=ctx)) == 2
