"""Issuing: numbers, lookup codes, documents on disk, idempotency, crashes, bad drafts."""

from __future__ import annotations

import hashlib
import json
import subprocess
import threading
import uuid
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from evservice import audit, privacy
from evservice._context import Context
from evservice.clock import ManualClock
from evservice.errors import (
    DocumentError,
    NotFoundError,
    NumberingError,
    SeriesOrderError,
    ValidationError,
)
from evservice.invoices import (
    InvoiceDraft,
    InvoiceStatus,
    complete_pending,
    get,
    issue,
    list_invoices,
    lookup,
    parse_invoice_xml,
    record_invoice,
    record_invoices,
    render_to,
    stored_draft,
)
from evservice.invoices import _documents as documents_module
from evservice.invoices import _issue as issue_module
from evservice.invoices._tables import InvoiceRow

SELLER = {
    "name": "Tổng công ty Điện lực miền Bắc - Công ty Điện lực Hải Dương",
    "tax_code": "0100100079",
    "address": "Số 33 Đại lộ Hồ Chí Minh, thành phố Hải Dương",
}
# The clock fixture stands at 2026-11-01 09:00 in Vietnam.
DAY = date(2026, 10, 31)


def make_draft(reference: str | None = "PA01000001-2026-10", **changes: Any) -> dict[str, Any]:
    """A residential electricity bill of 237 kWh at the 2025-05-10 prices."""
    data: dict[str, Any] = {
        "series": "C26TAA",
        "issue_date": DAY.isoformat(),
        "reference": reference,
        "seller": SELLER,
        "buyer": {
            "person_name": "Nguyễn Thị Ánh Tuyết",
            "customer_code": "PA01000001",
            "address": "Số 1 phố Đông Hải, Hải Dương",
        },
        "lines": [
            {"name": f"Bậc {i}", "unit": "kWh", "quantity": q, "unit_price": p, "vat_rate": "8%"}
            for i, (q, p) in enumerate(
                [("50", "1984"), ("50", "2050"), ("100", "2380"), ("37", "2998")], start=1
            )
        ],
    }
    data.update(changes)
    return data


def row_of(ctx: Context, invoice_id: str) -> InvoiceRow:
    with ctx.engine.connect() as conn:
        row = conn.execute(
            sa.select(InvoiceRow).where(InvoiceRow.id == invoice_id)  # type: ignore[arg-type]
        ).one()
    return InvoiceRow.model_validate(row._mapping)


def test_issue_numbers_stores_and_writes_documents(ctx: Context) -> None:
    first = issue(make_draft(), ctx=ctx)
    second = issue(make_draft("PA01000002-2026-10"), ctx=ctx)

    assert (first.number, second.number) == (1, 2)
    assert first.created
    assert second.created
    assert first.label == "1C26TAA-00000001"
    assert first.status is InvoiceStatus.ISSUED
    assert lookup.is_valid(first.lookup_code)
    assert first.lookup_code == lookup.format(first.lookup_code)  # stored as printed
    assert first.lookup_code != second.lookup_code
    assert first.invoice.totals.payable == Decimal(594_676)

    folder = ctx.data_dir / "invoices" / "2026" / "1C26TAA"
    assert first.xml_path == folder / "00000001.xml"
    assert first.pdf_path == folder / "00000001.pdf"
    assert first.xml_path is not None
    assert first.pdf_path is not None
    xml, pdf = first.xml_path.read_bytes(), first.pdf_path.read_bytes()
    assert hashlib.sha256(xml).hexdigest() == first.xml_sha256
    assert hashlib.sha256(pdf).hexdigest() == first.pdf_sha256
    assert pdf.startswith(b"%PDF-")
    assert sorted(p.name for p in folder.iterdir()) == [  # no temporary files left over
        "00000001.pdf",
        "00000001.xml",
        "00000002.pdf",
        "00000002.xml",
    ]

    parsed = parse_invoice_xml(xml)
    assert parsed.number == 1
    assert parsed.lookup_code == first.lookup_code
    assert parsed.draft.series == "C26TAA"
    assert parsed.totals.payable == first.invoice.totals.payable

    row = row_of(ctx, first.row_id)
    assert row.xml_path == "invoices/2026/1C26TAA/00000001.xml"
    assert row.status == "issued"
    assert row.total_payable == 594_676
    # The buyer's name is sealed in the row, under the retention key, bound to this row.
    assert row.buyer_name is not None
    assert "Tuyết" not in row.buyer_name
    place = privacy.FieldPlace("invoice", "buyer_name", row.id)
    assert privacy.keyring(ctx).open(row.buyer_name, place) == "Nguyễn Thị Ánh Tuyết"
    assert row.issued_at == ctx.clock.now()


def test_pdf_shows_number_and_lookup_code(ctx: Context) -> None:
    issued = issue(make_draft(), ctx=ctx)
    assert issued.pdf_path is not None
    text = subprocess.run(
        ["pdftotext", "-layout", str(issued.pdf_path), "-"],
        capture_output=True,
        check=True,
        text=True,
    ).stdout
    assert "00000001" in text
    assert issued.lookup_code in text


def test_get_by_id_lookup_code_or_label(ctx: Context) -> None:
    issued = issue(make_draft(), ctx=ctx)
    code = issued.lookup_code
    for key in (
        issued.row_id,
        issued.invoice.id,
        code,
        code.replace("-", "").lower(),
        "1C26TAA-00000001",
        "1c26taa-1",
    ):
        found = get(key, ctx=ctx)
        assert found.invoice == issued.invoice
        assert found.xml_path == issued.xml_path
        assert not found.created
    with pytest.raises(NotFoundError):
        get("1C26TAA-00000002", ctx=ctx)
    with pytest.raises(NotFoundError):
        get(str(uuid.uuid4()), ctx=ctx)
    with pytest.raises(NotFoundError):
        get(lookup.format(lookup.generate()), ctx=ctx)
    with pytest.raises(ValidationError) as info:
        get("not an invoice", ctx=ctx)
    assert info.value.field == "key"


def test_same_reference_gives_the_same_invoice(ctx: Context) -> None:
    first = issue(make_draft(), ctx=ctx)
    # Whatever else the repeated draft says, the reference decides.
    again = issue(make_draft(lines=[{"name": "x", "amount": "1", "vat_rate": "8%"}]), ctx=ctx)
    assert again.invoice == first.invoice
    assert not again.created
    assert again.xml_sha256 == first.xml_sha256
    assert issue(make_draft("other"), ctx=ctx).number == 2  # no number was used up


@pytest.mark.parametrize("series", ["same", "different"])
def test_concurrent_issue_of_one_reference_gives_one_invoice(ctx: Context, series: str) -> None:
    """Threads race with their own connections: one wins, the others get its invoice."""
    ctx.engine.connect().close()
    threads = 6
    barrier = threading.Barrier(threads)
    results: list[Any] = [None] * threads

    def run(i: int) -> None:
        draft = make_draft("RACE-1")
        if series == "different":
            draft["series"] = ["C26TAA", "C26TAB", "C26TAC"][i % 3]
        barrier.wait()
        try:
            results[i] = record_invoice(draft, ctx=ctx)
        except Exception as exc:  # reported below
            results[i] = exc

    workers = [threading.Thread(target=run, args=(i,)) for i in range(threads)]
    for t in workers:
        t.start()
    for t in workers:
        t.join(timeout=60)
    assert all(not isinstance(r, Exception) for r in results), results
    assert len({r.row_id for r in results}) == 1
    assert sum(r.created for r in results) == 1
    assert len(list_invoices(ctx=ctx)) == 1
    # The losers gave their numbers back: each series continues without a gap.
    winner = results[0].invoice.draft.series
    assert issue(make_draft("NEXT", series=winner), ctx=ctx).number == 2


def test_record_invoices_numbers_many_in_one_transaction(ctx: Context) -> None:
    first = record_invoice(make_draft("R-0"), ctx=ctx)
    drafts = [make_draft(f"R-{i}") for i in range(1, 6)]
    drafts.insert(2, make_draft("R-0"))  # issued before: comes back as it was
    issued = record_invoices(drafts, ctx=ctx)
    assert [i.invoice.draft.reference for i in issued] == [d["reference"] for d in drafts]
    assert [i.number for i in issued] == [2, 3, 1, 4, 5, 6]
    assert [i.created for i in issued] == [True, True, False, True, True, True]
    assert issued[2].invoice == first.invoice
    assert len({i.lookup_code for i in issued}) == 6
    assert all(lookup.is_valid(i.lookup_code) for i in issued)
    again = record_invoices(drafts, ctx=ctx)  # a rerun issues nothing new
    assert [i.invoice for i in again] == [i.invoice for i in issued]
    assert not any(i.created for i in again)
    assert record_invoices([], ctx=ctx) == []
    audit.sequence_pending(ctx)  # the events are queued; the sequencer gives them indexes
    with ctx.engine.connect() as conn:
        events = conn.execute(
            sa.text("SELECT subject FROM audit_event WHERE type = 'invoice.issued' ORDER BY idx")
        ).scalars()
        assert list(events) == [first.row_id] + [i.row_id for i in issued if i.created]


def test_record_invoices_orders_numbers_by_issue_date(ctx: Context) -> None:
    later, earlier = DAY, DAY - timedelta(days=3)
    issued = record_invoices(
        [
            make_draft("late-1", issue_date=later.isoformat()),
            make_draft("early-1", issue_date=earlier.isoformat()),
            make_draft("late-2", issue_date=later.isoformat()),
            make_draft("other-series", series="C26TAB"),
        ],
        ctx=ctx,
    )
    assert [i.number for i in issued] == [2, 1, 3, 1]


def test_record_invoices_refuses_bad_input_before_storing_anything(ctx: Context) -> None:
    with pytest.raises(ValidationError) as info:
        record_invoices([make_draft("A"), make_draft("B", series="X26TAA")], ctx=ctx)
    assert info.value.field.startswith("drafts.1.series")
    with pytest.raises(ValidationError, match="'A' appears more than once") as twice:
        record_invoices([make_draft("A"), make_draft("B"), make_draft("A")], ctx=ctx)
    assert twice.value.field == "drafts"
    future = (DAY + timedelta(days=30)).isoformat()
    with pytest.raises(ValidationError, match="in the future") as late:
        record_invoices([make_draft("A"), make_draft("B", issue_date=future)], ctx=ctx)
    assert late.value.field == "drafts.1.issue_date"
    assert list_invoices(ctx=ctx) == []


def test_lookup_code_collision_draws_again(ctx: Context, monkeypatch: pytest.MonkeyPatch) -> None:
    first = issue(make_draft(), ctx=ctx)
    fresh = lookup.generate()
    draws = iter([lookup.compact(first.lookup_code), fresh])
    monkeypatch.setattr(issue_module._lookup, "generate", lambda: next(draws))
    second = issue(make_draft("PA01000002-2026-10"), ctx=ctx)
    assert second.lookup_code == lookup.format(fresh)


def test_stored_draft_round_trips_exactly(ctx: Context) -> None:
    draft = InvoiceDraft.model_validate(
        make_draft(
            lines=[
                {
                    "name": "Điện bậc 1",
                    "quantity": "50.000",
                    "unit_price": "1984.5000",
                    "vat_rate": "8%",
                    "discount_rate": "2.50",
                    "extra": {"Chỉ số cũ": "1200", "Chỉ số mới": "1250"},
                },
                {"name": "Phí", "amount": "12345", "vat_rate": "KHAC:5.26%"},
                {"kind": 4, "name": "Ghi chú: kỳ 10/2026"},
            ],
            payment={"bank_bin": "970436", "account": "0011004000000"},
            extra={"Kỳ": "10/2026"},
            exchange_rate="1.0",
        )
    )
    issued = issue(draft, ctx=ctx)
    stored = stored_draft(row_of(ctx, issued.row_id), ctx)
    assert json.loads(stored)["lines"][0]["unit_price"] == "1984.5000"  # strings, not floats
    back = get(issued.row_id, ctx=ctx).invoice.draft
    assert back == draft
    assert back.model_dump_json() == draft.model_dump_json()
    assert back.lines[0].unit_price is not None
    assert back.lines[0].unit_price.as_tuple() == Decimal("1984.5000").as_tuple()


def test_documents_are_a_function_of_the_row(ctx: Context, tmp_path: Path) -> None:
    issued = issue(make_draft(), ctx=ctx)
    xml_path, pdf_path = render_to(issued.lookup_code, tmp_path / "again", ctx=ctx)
    assert xml_path.name == "1C26TAA-00000001.xml"
    assert issued.xml_path is not None
    assert issued.pdf_path is not None
    # The signed XML is byte-identical (same key, same signing time); the PDF's
    # signature carries fresh random values, so compare what a reader sees.
    assert xml_path.read_bytes() == issued.xml_path.read_bytes()
    assert _pdf_text(pdf_path) == _pdf_text(issued.pdf_path)


def _pdf_text(path: Path) -> str:
    return subprocess.run(
        ["pdftotext", "-layout", str(path), "-"], capture_output=True, check=True, text=True
    ).stdout


def test_crash_before_documents_then_same_reference_completes(
    ctx: Context, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = documents_module.render_documents
    calls = {"n": 0}

    def crash_once(invoice: Any, ctx: Context | None = None) -> tuple[bytes, bytes]:
        calls["n"] += 1
        if calls["n"] == 1:
            raise DocumentError("simulated crash while rendering")
        return real(invoice, ctx)

    monkeypatch.setattr(documents_module, "render_documents", crash_once)
    with pytest.raises(DocumentError, match="simulated"):
        issue(make_draft(), ctx=ctx)
    pending = get("1C26TAA-00000001", ctx=ctx)  # the row is committed, the files are not
    assert not pending.has_documents
    assert not (ctx.data_dir / "invoices").exists()

    done = issue(make_draft(), ctx=ctx)
    assert done.row_id == pending.row_id
    assert done.number == 1
    assert done.lookup_code == pending.lookup_code
    assert done.has_documents
    assert done.xml_path is not None
    assert hashlib.sha256(done.xml_path.read_bytes()).hexdigest() == done.xml_sha256
    assert issue(make_draft("next"), ctx=ctx).number == 2


def test_complete_pending_renders_what_a_crash_left(ctx: Context) -> None:
    numbered = [record_invoice(make_draft(f"R{i}"), ctx=ctx) for i in range(3)]
    assert not any(n.has_documents for n in numbered)
    issue(make_draft("R9"), ctx=ctx)  # complete already: left alone

    done = complete_pending(ctx=ctx)
    assert [d.number for d in done] == [1, 2, 3]
    for item in done:
        assert item.has_documents
        assert item.pdf_path is not None
        assert item.xml_path is not None
        assert hashlib.sha256(item.pdf_path.read_bytes()).hexdigest() == item.pdf_sha256
        assert parse_invoice_xml(item.xml_path.read_bytes()).number == item.number
    assert complete_pending(ctx=ctx) == []


def test_list_invoices_filters(ctx: Context) -> None:
    for i in range(3):
        issue(make_draft(f"A{i}"), ctx=ctx)
    issue(make_draft("B0", series="C26TAB"), ctx=ctx)
    assert [i.label for i in list_invoices(ctx=ctx, series="C26TAA")] == [
        "1C26TAA-00000001",
        "1C26TAA-00000002",
        "1C26TAA-00000003",
    ]
    assert len(list_invoices(ctx=ctx)) == 4
    assert len(list_invoices(ctx=ctx, limit=2, offset=3)) == 1
    assert list_invoices(ctx=ctx, status="replaced") == []
    assert len(list_invoices(ctx=ctx, issued_from=DAY, issued_to=DAY)) == 4
    with pytest.raises(ValidationError) as info:
        list_invoices(ctx=ctx, status="lost")
    assert info.value.field == "status"


# -- bad drafts ------------------------------------------------------------------------


BAD_DRAFTS: list[tuple[dict[str, Any], str, str]] = [
    ({"seller": {**SELLER, "tax_code": "0100100078"}}, "seller.tax_code", "tax code"),
    (
        {"buyer": {"name": "Công ty A", "tax_code": "12345"}},
        "buyer.tax_code",
        "tax code",
    ),
    (
        {"lines": [{"name": "Điện", "amount": "100", "vat_rate": "7%"}]},
        "lines.0.vat_rate",
        "unknown VAT rate",
    ),
    ({"series": "C25TAA"}, "series", "does not match the issue year"),
    ({"series": "C26T1A"}, "series", "6 characters|two letters"),
    (
        {"lines": [{"name": "Điện", "amount": "1000000000000000", "vat_rate": "8%"}]},
        "lines.0.amount",
        "beyond the limit",
    ),
    ({"lines": [{"name": "Điện", "amount": 1.5, "vat_rate": "8%"}]}, "lines.0.amount", "float"),
    ({"lines": [{"name": "Điện", "amount": "-5", "vat_rate": "8%"}]}, "lines", "negative"),
    ({"lines": []}, "lines", "at least 1"),
    ({"issue_date": "2026-11-02"}, "issue_date", "future"),
    (
        {"lines": [{"name": f"L{i}", "amount": "9" + "0" * 14, "vat_rate": "10%"} for i in (1, 2)]},
        "lines",
        "total payable is beyond the limit of 10\\^15",
    ),
]


def test_bad_drafts_name_the_field(ctx: Context) -> None:
    for changes, field, reason in BAD_DRAFTS:
        with pytest.raises(ValidationError, match=reason) as info:
            issue(make_draft(**changes), ctx=ctx)
        assert info.value.field == field, changes
    assert list_invoices(ctx=ctx) == []
    assert not (ctx.data_dir / "invoices").exists()


def test_draft_as_json_text_and_junk(ctx: Context) -> None:
    assert issue(json.dumps(make_draft()), ctx=ctx).number == 1
    with pytest.raises(ValidationError) as info:
        issue("{not json", ctx=ctx)
    assert "JSON" in info.value.reason


def test_issue_date_before_the_last_of_the_series_is_refused(
    ctx: Context, clock: ManualClock
) -> None:
    issue(make_draft("late"), ctx=ctx)
    earlier = (DAY - timedelta(days=1)).isoformat()
    with pytest.raises(SeriesOrderError) as info:
        issue(make_draft("early", issue_date=earlier), ctx=ctx)
    assert isinstance(info.value, ValidationError)
    assert isinstance(info.value, NumberingError)
    assert info.value.field == "issue_date"
    # Nothing was kept: the next invoice dated the same day or later gets number 2.
    assert issue(make_draft("same day"), ctx=ctx).number == 2
    clock.advance(days=1)
    assert issue(make_draft("next day", issue_date="2026-11-01"), ctx=ctx).number == 3


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(key=st.text(max_size=40))
def test_junk_keys_never_crash(sqlite_ctx: Context, key: str) -> None:
    """Any text is an id, a label or a lookup code that is not there, or bad input."""
    with pytest.raises((ValidationError, NotFoundError)):
        get(key, ctx=sqlite_ctx)
