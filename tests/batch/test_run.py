"""The monthly batch: validation first, gapless idempotent issuing, credit, anomalies, delivery."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

import evservice
import evservice.batch
from evservice import audit
from evservice._context import Context
from evservice.audit._tables import AuditEventRow
from evservice.batch import BatchOptions, BatchSummary, batch_reference, run_batch
from evservice.batch._demo import COLUMNS
from evservice.batch._tables import BatchCredit, BatchHistory
from evservice.clock import ManualClock
from evservice.config import Settings
from evservice.delivery import MemoryChannel, dispatch, list_outbox
from evservice.errors import ConfigurationError, ValidationError
from evservice.invoices import Invoice, IssuedInvoice, list_invoices
from evservice.invoices import _documents as documents_module

SELLER_SETTINGS = {
    "seller_name": "Tổng công ty Điện lực TP Hà Nội",
    "seller_tax_code": "0100101114",
    "seller_address": "69 Đinh Tiên Hoàng, quận Hoàn Kiếm, Hà Nội",
    "payee_bank_bin": "970436",
    "payee_account": "0011001234567",
    "payee_name": "EVN HANOI",
}
# The clock fixture stands at 2026-11-01 09:00 in Vietnam: the October batch is issued today.
PERIOD = "2026-10"
TODAY = date(2026, 11, 1)


def batch_settings(settings: Settings, **changes: Any) -> Settings:
    return settings.model_copy(update={**SELLER_SETTINGS, **changes})


@pytest.fixture
def bctx(settings: Settings, clock: ManualClock) -> Context:
    """A context with a seller and a payee, on each back end."""
    return Context(settings=batch_settings(settings), clock=clock)


@pytest.fixture
def sqlite_bctx(sqlite_ctx: Context) -> Context:
    return Context(settings=batch_settings(sqlite_ctx.settings), clock=sqlite_ctx.clock)


def meter(
    customer: str,
    previous: int,
    current: int,
    *,
    start: str = "2026-09-15",
    end: str = "2026-10-14",
    **extra: Any,
) -> dict[str, Any]:
    row = {
        "row_type": "meter",
        "customer_id": customer,
        "name": f"Nguyễn Văn {customer}",
        "address": "Số 1 Láng Hạ, Hà Nội",
        "meter_id": f"M-{customer}",
        "households": 1,
        "period_start": start,
        "period_end": end,
        "previous_index": previous,
        "current_index": current,
    }
    return row | extra


def plan(customer: str, *, start: str, end: str, **extra: Any) -> dict[str, Any]:
    row = {
        "row_type": "subscription",
        "customer_id": customer,
        "name": f"Trần Thị {customer}",
        "address": "Số 2 Kim Mã, Hà Nội",
        "plan_code": "NET150",
        "plan_name": "Internet cáp quang 150 Mbps",
        "monthly_fee": 165000,
        "period_start": start,
        "period_end": end,
    }
    return row | extra


def write_csv(path: Path, rows: Iterable[dict[str, Any]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS)
        writer.writeheader()
        for row in rows:
            writer.writerow(row)
    return path


def good_rows(count: int, prefix: str = "C") -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for n in range(count):
        if n % 4 == 3:
            rows.append(
                plan(f"{prefix}{n:03d}", start="2026-10-01", end="2026-10-31", phone="0912345678")
            )
        else:
            rows.append(meter(f"{prefix}{n:03d}", 1000 + n, 1100 + 7 * n))
    return rows


def run(ctx: Context, path: Path, period: str = PERIOD, **options: Any) -> BatchSummary:
    options.setdefault("workers", 0)
    return run_batch(path, period, ctx=ctx, options=BatchOptions(**options))


def issued_invoices(ctx: Context) -> list[IssuedInvoice]:
    return list_invoices(ctx=ctx, limit=10_000)


def assert_gapless(invoices: list[IssuedInvoice]) -> None:
    numbers = [i.number for i in invoices]
    assert numbers == list(range(1, len(numbers) + 1))
    references = [i.invoice.draft.reference for i in invoices]
    assert len(set(references)) == len(references)


def test_rejected_rows_are_reported_and_the_valid_ones_issued(
    bctx: Context, tmp_path: Path
) -> None:
    rows = [
        *good_rows(8),
        meter("BAD1", 1000, 1200, households=0),
        meter("BAD2", 1000, 500),  # below the previous index, not a roll-over
        meter("BAD3", 1000, 1200, tax_code="0100109107"),  # wrong check digit
        meter("BAD4", 1000, 1200, phone="0912"),  # too short to be a phone number
        meter("BAD5", 1000, 1200, tariff_code="NO-SUCH"),  # rejected when priced
        meter("BAD6", 1000, 1200, start="2020-01-01", end="2020-01-31"),  # not in the period
        meter("BAD7", 1000, 1200, name="Lê " * 40),  # too long for HVTNMHang (100)
        meter("C000", 1, 2),  # the same customer and meter twice
    ]
    path = write_csv(tmp_path / "in.csv", rows)
    summary = run(bctx, path)

    assert (summary.rows, summary.valid, summary.issued, summary.rejected) == (16, 8, 8, 8)
    assert summary.exit_code == 1
    with summary.rejected_csv.open(encoding="utf-8") as handle:
        report = list(csv.DictReader(handle))
    assert [(r["row_number"], r["customer_id"], r["field"]) for r in report] == [
        ("10", "BAD1", "households"),
        ("11", "BAD2", "current_index"),
        ("12", "BAD3", "tax_code"),
        ("13", "BAD4", "phone"),
        ("14", "BAD5", "tariff_code"),
        ("15", "BAD6", "period_end"),
        ("16", "BAD7", "name"),
        ("17", "C000", "customer_id"),
    ]
    assert all(r["reason"] for r in report)
    assert "0912" not in summary.rejected_csv.read_text(encoding="utf-8")
    invoices = issued_invoices(bctx)
    assert_gapless(invoices)
    assert {i.invoice.draft.reference for i in invoices} == {
        batch_reference(PERIOD, row["customer_id"], f"meter:M-{row['customer_id']}")
        if row["row_type"] == "meter"
        else batch_reference(PERIOD, row["customer_id"], "plan:NET150")
        for row in rows[:8]
    }
    assert all(i.has_documents for i in invoices)
    assert (summary.first_number, summary.last_number) == (1, 8)


def test_a_rerun_issues_nothing_twice(bctx: Context, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "in.csv", good_rows(6))
    first = run(bctx, path)
    assert (first.issued, first.already_issued, first.exit_code) == (6, 0, 0)
    events = audit.log_size(bctx)
    second = run(bctx, path)
    assert (second.issued, second.already_issued, second.rejected) == (0, 6, 0)
    assert (second.first_number, second.last_number) == (None, None)
    assert audit.log_size(bctx) == events
    assert second.total_payable == first.total_payable
    assert second.by_vat_rate == first.by_vat_rate
    invoices = issued_invoices(bctx)
    assert len(invoices) == 6
    assert_gapless(invoices)
    with bctx.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(BatchHistory)).scalar() == 6


def test_a_rolled_over_meter_is_priced_on_what_it_really_counted(
    sqlite_bctx: Context, tmp_path: Path
) -> None:
    path = write_csv(tmp_path / "in.csv", [meter("R1", 999_950, 100, meter_digits=6)])
    summary = run(sqlite_bctx, path)
    (invoice,) = issued_invoices(sqlite_bctx)
    draft = invoice.invoice.draft
    assert sum((line.quantity or 0 for line in draft.lines), Decimal(0)) == 150
    assert draft.extra["QuayVongCongTo"] == "1"
    assert (draft.extra["ChiSoCu"], draft.extra["ChiSoMoi"]) == ("999950", "100")
    assert draft.extra["DienNangTieuThu"] == "150"
    # 50 kWh in each of tiers 1-3 at the prices of 2025-05-10.
    assert summary.by_tier == {
        1: {"kwh": Decimal(50), "amount": Decimal(99200)},
        2: {"kwh": Decimal(50), "amount": Decimal(102500)},
        3: {"kwh": Decimal(50), "amount": Decimal(119000)},
    }
    assert summary.anomaly_counts == {"rollover": 1}


def test_credit_is_carried_to_the_next_period_and_spent_once(bctx: Context, tmp_path: Path) -> None:
    september = write_csv(
        tmp_path / "sep.csv", [plan("P1", start="2026-09-01", end="2026-09-30", credit=200000)]
    )
    october = write_csv(tmp_path / "oct.csv", [plan("P1", start="2026-10-01", end="2026-10-31")])
    first = run(bctx, september, "2026-09", issue_date=date(2026, 10, 1))
    assert first.credit_used == 165000
    assert first.total_payable == 0
    run(bctx, september, "2026-09", issue_date=date(2026, 10, 1))  # a rerun spends nothing
    second = run(bctx, october, "2026-10")
    assert second.credit_used == 35000  # what was left of the 200,000
    assert second.by_vat_rate == {
        "10%": {"before_tax": Decimal(130000), "tax": Decimal(13000), "payable": Decimal(143000)}
    }
    with bctx.engine.connect() as conn:
        balance = conn.execute(sa.select(BatchCredit.balance)).scalar_one()  # type: ignore[arg-type]
    assert balance == 0
    third = run(bctx, october, "2026-10")
    assert (third.issued, third.credit_used) == (0, 35000)
    invoices = issued_invoices(bctx)
    assert [i.invoice.draft.extra.get("SoDuConLai") for i in invoices] == ["35000", "0"]


def test_spikes_and_zero_readings_are_flagged_and_notified(bctx: Context, tmp_path: Path) -> None:
    clock = bctx.clock
    assert isinstance(clock, ManualClock)
    months = [
        ("2026-07", date(2026, 8, 1)),
        ("2026-08", date(2026, 9, 1)),
        ("2026-09", date(2026, 10, 1)),
    ]
    index = {"A": 1000, "B": 5000, "C": 9000}
    for period, day in months:
        rows = []
        month = int(period[5:])
        for customer in index:
            rows.append(
                meter(
                    customer,
                    index[customer],
                    index[customer] + 100,
                    email=f"{customer.lower()}@example.vn",
                    phone="0912345678",
                    start=f"2026-{month - 1:02d}-15",  # each reading ends in its period
                    end=f"2026-{month:02d}-14",
                )
            )
            index[customer] += 100
        summary = run(bctx, write_csv(tmp_path / f"{period}.csv", rows), period, issue_date=day)
        assert summary.anomaly_counts == {}
    rows = [
        meter("A", index["A"], index["A"] + 400, email="a@example.vn", phone="0912345678"),
        meter("B", index["B"], index["B"], email="b@example.vn"),
        meter("C", index["C"], index["C"] + 110),
    ]
    channel = MemoryChannel()
    summary = run(
        bctx,
        write_csv(tmp_path / "oct.csv", rows),
        "2026-10",
        notify_anomalies=True,
        channel=channel,
    )
    assert summary.anomaly_counts == {"spike": 1, "zero": 1}
    flagged = {(a.customer_id, a.kind) for a in summary.anomalies}
    assert flagged == {("A", "spike"), ("B", "zero")}
    spike = next(a for a in summary.anomalies if a.kind == "spike")
    assert spike.previous_periods == 3
    assert spike.payable >= 2 * (spike.average or 0)
    assert summary.deliveries["anomaly_notices"] == 3  # A by SMS and e-mail, B by e-mail
    texts = sorted((m.kind, m.to) for m in channel.sent)
    assert texts == [("email", "a@example.vn"), ("email", "b@example.vn"), ("sms", "+84912345678")]
    sms = next(m for m in channel.sent if m.kind == "sms")
    assert "tang bat thuong" in sms.text
    again = run(
        bctx,
        write_csv(tmp_path / "oct.csv", rows),
        "2026-10",
        notify_anomalies=True,
        channel=channel,
    )
    assert again.anomaly_counts == {"spike": 1, "zero": 1}
    assert again.deliveries.get("anomaly_notices", 0) == 0
    assert len(channel.sent) == 3


def test_delivery_goes_through_the_outbox_once(bctx: Context, tmp_path: Path) -> None:
    rows = [
        meter("D1", 100, 250, email="d1@example.vn", phone="0912345678"),
        meter("D2", 100, 180, phone="0987654321"),
        meter("D3", 100, 120),  # no contact: nothing to send
    ]
    path = write_csv(tmp_path / "in.csv", rows)
    channel = MemoryChannel()
    channel.fail_next(1)  # the gateway is down for one message
    summary = run(bctx, path, deliver=True, channel=channel)
    assert (summary.deliveries["email"], summary.deliveries["sms"]) == (1, 2)
    assert (summary.deliveries["sent"], summary.deliveries["retrying"]) == (2, 1)
    assert len(list_outbox(bctx, limit=100)) == 3
    # Nothing is lost: once the retry is due the message goes out.
    assert isinstance(bctx.clock, ManualClock)
    bctx.clock.advance(minutes=5)
    assert dispatch(bctx, channel).sent == 1
    assert len(channel.sent) == 3
    email = next(m for m in channel.sent if m.kind == "email")
    assert sorted(a.content_type for a in email.attachments) == [
        "application/pdf",
        "application/xml",
    ]
    codes = {i.lookup_code for i in issued_invoices(bctx)}
    due = (TODAY + timedelta(days=10)).strftime("%d/%m/%Y")
    for sms in (m for m in channel.sent if m.kind == "sms"):
        assert any(code in sms.text for code in codes)
        assert due in sms.text
    # A rerun queues nothing again.
    again = run(bctx, path, deliver=True, channel=channel)
    assert again.already_issued == 3
    assert "email" not in again.deliveries
    assert "sms" not in again.deliveries
    assert len(list_outbox(bctx, limit=100)) == 3
    assert len(channel.sent) == 3
    delivered = [e for e in _events(bctx) if e["type"] == "invoice.delivered"]
    assert len(delivered) == 2
    assert "example.vn" not in json.dumps(delivered)
    assert "912345678" not in json.dumps(delivered)


def _events(ctx: Context) -> list[dict[str, Any]]:
    with ctx.engine.connect() as conn:
        rows = conn.execute(sa.select(AuditEventRow.type, AuditEventRow.data)).all()  # type: ignore[call-overload]
    return [{"type": kind, "data": data} for kind, data in rows]


def test_the_summary_json_says_what_was_done(bctx: Context, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "in.csv", [*good_rows(5), meter("BAD", 1, 2, households=0)])
    summary = run(bctx, path, report_dir=tmp_path / "report")
    data = json.loads((tmp_path / "report" / "summary.json").read_text(encoding="utf-8"))
    assert data == json.loads(summary.to_json())
    assert data["period"] == PERIOD
    assert data["series"] == "C26TEV"
    assert data["issue_date"] == TODAY.isoformat()
    assert data["counts"] == {
        "lines": 7, "blank_lines": 0, "rows": 6, "valid": 5, "issued": 5,
        "already_issued": 0, "rejected": 1, "documents_pending": 0,
        "completed_pending": 0, "meters": 4, "subscriptions": 1,
    }  # fmt: skip
    invoices = issued_invoices(bctx)
    payable = sum((i.invoice.totals.payable for i in invoices), Decimal(0))
    assert Decimal(data["totals"]["payable"]) == payable
    assert set(data["by_vat_rate"]) == {"8%", "10%"}
    rate_sum = sum(Decimal(v["payable"]) for v in data["by_vat_rate"].values())
    assert rate_sum == payable
    kwh = sum(Decimal(v["kwh"]) for v in data["by_tier"].values())
    assert kwh == sum(100 + 6 * n for n in range(5) if n % 4 != 3)
    assert data["numbers"] == {"first": 1, "last": 5}
    assert data["paths"]["rejected_csv"] == str(tmp_path / "report" / "rejected.csv")
    assert data["elapsed_seconds"] > 0
    assert data["invoices_per_second"] > 0
    assert data["checkpoint_size"] == audit.log_size(bctx)
    assert data["rejections"][0]["field"] == "households"


def test_issued_documents_verify(sqlite_bctx: Context, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "in.csv", good_rows(4))
    run(sqlite_bctx, path)
    for invoice in issued_invoices(sqlite_bctx)[::2]:
        assert invoice.pdf_path is not None
        assert invoice.xml_path is not None
        for document in (invoice.pdf_path, invoice.xml_path):
            report = evservice.verify(document, ctx=sqlite_bctx)
            assert report.ok, report.summary()


def test_a_local_process_pool_numbers_without_gaps(sqlite_bctx: Context, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "in.csv", good_rows(16))
    summary = run(sqlite_bctx, path, workers=2, chunk_size=3)
    assert (summary.issued, summary.workers) == (16, 2)
    invoices = issued_invoices(sqlite_bctx)
    assert_gapless(invoices)
    assert all(i.has_documents for i in invoices)
    # The workers used the caller's (manual) clock, not the real one.
    assert {i.invoice.issued_at for i in invoices} == {sqlite_bctx.clock.now()}


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"series": "C25TEV"}, "series"),
        ({"series": "X26TEV"}, "series"),
        ({"issue_date": TODAY + timedelta(days=1)}, "issue_date"),
        ({"chunk_size": 0}, "chunk_size"),
        ({"workers": -1}, "workers"),
        ({"engine": "dask"}, "scheduler"),
        ({"due_days": -1}, "due_days"),
        ({"template": "9"}, "template"),
    ],
)
def test_bad_options_name_their_field(
    sqlite_bctx: Context, tmp_path: Path, changes: dict[str, Any], field: str
) -> None:
    path = write_csv(tmp_path / "in.csv", good_rows(1))
    with pytest.raises(ValidationError) as caught:
        run(sqlite_bctx, path, **changes)
    assert caught.value.field == field
    assert issued_invoices(sqlite_bctx) == []


def test_bad_input_and_period_name_their_field(sqlite_bctx: Context, tmp_path: Path) -> None:
    with pytest.raises(ValidationError) as caught:
        run(sqlite_bctx, tmp_path / "missing.csv")
    assert caught.value.field == "input"
    path = write_csv(tmp_path / "in.csv", good_rows(1))
    with pytest.raises(ValidationError) as caught:
        run(sqlite_bctx, path, "2026-13")
    assert caught.value.field == "period"


def test_a_missing_seller_names_the_settings(sqlite_ctx: Context, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "in.csv", good_rows(1))
    with pytest.raises(ConfigurationError, match="EVSERVICE_SELLER_NAME"):
        run(sqlite_ctx, path)
    bad = Context(
        settings=batch_settings(sqlite_ctx.settings, seller_tax_code="0100109107"),
        clock=sqlite_ctx.clock,
    )
    with pytest.raises(ConfigurationError, match="EVSERVICE_SELLER_TAX_CODE"):
        run(bad, path)


def test_long_keys_make_short_references() -> None:
    short = batch_reference("2026-11", "PD000000001", "meter:PE0000000001")
    assert short == "2026-11:PD000000001:meter:PE0000000001"
    long = batch_reference("2026-11", "C" * 50, "meter:" + "M" * 50)
    assert len(long) <= 100
    assert long != batch_reference("2026-11", "C" * 50, "meter:" + "M" * 49 + "N")


def test_public_surface() -> None:
    names = evservice.batch.__all__
    assert names == sorted(names)
    for name in names:
        assert getattr(evservice.batch, name) is not None
    assert evservice.batch.run_batch is run_batch
    with pytest.raises(AttributeError):
        _ = evservice.batch.no_such_name


class _Crash(Exception):
    """Stands for the process dying between numbering an invoice and writing its files."""


def crash_while_rendering(
    ctx: Context, path: Path, monkeypatch: pytest.MonkeyPatch, *, on_call: int
) -> None:
    """Run the batch until the ``on_call``-th invoice's documents are rendered: it dies."""
    real = documents_module.render_documents
    calls = 0

    def dies(invoice: Invoice, ctx: Context | None = None) -> tuple[bytes, bytes]:
        nonlocal calls
        calls += 1
        if calls == on_call:
            raise _Crash
        return real(invoice, ctx)

    with monkeypatch.context() as patched:
        patched.setattr(documents_module, "render_documents", dies)
        with pytest.raises(_Crash):
            run(ctx, path)


def test_documents_a_crash_left_unwritten_are_completed_first(
    sqlite_bctx: Context, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write_csv(tmp_path / "in.csv", good_rows(5))
    crash_while_rendering(sqlite_bctx, path, monkeypatch, on_call=3)
    pending = [i for i in issued_invoices(sqlite_bctx) if not i.has_documents]
    assert [i.number for i in pending] == [3]  # five rows: a chunk of one row each
    assert not list((sqlite_bctx.data_dir / "invoices").rglob("*.tmp"))

    summary = run(sqlite_bctx, path)
    assert (summary.completed_pending, summary.already_issued, summary.issued) == (1, 3, 2)
    invoices = issued_invoices(sqlite_bctx)
    assert_gapless(invoices)
    assert all(i.has_documents for i in invoices)


def test_a_chunk_is_numbered_together_and_a_crash_leaves_it_to_be_completed(
    sqlite_bctx: Context, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write_csv(tmp_path / "in.csv", good_rows(30))  # chunks of three rows
    crash_while_rendering(sqlite_bctx, path, monkeypatch, on_call=5)
    invoices = issued_invoices(sqlite_bctx)
    # The second chunk (rows 4-6) was numbered in one transaction; its documents are
    # stored together after all three are rendered, so none of them were.
    assert [(i.number, i.has_documents) for i in invoices] == [
        (1, True), (2, True), (3, True), (4, False), (5, False), (6, False)
    ]  # fmt: skip
    assert not list((sqlite_bctx.data_dir / "invoices").rglob("*.tmp"))

    summary = run(sqlite_bctx, path)
    assert (summary.completed_pending, summary.already_issued, summary.issued) == (3, 6, 24)
    invoices = issued_invoices(sqlite_bctx)
    assert_gapless(invoices)
    assert all(i.has_documents for i in invoices)
    with sqlite_bctx.engine.connect() as conn:
        signed = conn.execute(
            sa.select(AuditEventRow.subject).where(AuditEventRow.type == "invoice.signed")  # type: ignore[arg-type]
        ).scalars()
        assert sorted(signed) == sorted(i.row_id for i in invoices)  # one event each
