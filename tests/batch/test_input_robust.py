"""Bad input never blocks a batch (issue #19, items 1-4), on SQLite and PostgreSQL.

Whole-file problems (UTF-16, binary, latin-1, cp1258) are one error from our tree
(exit 2 in the CLI); a bad byte, an over-long cell, a control character, an
impossible or out-of-period date reject only their row; every physical line is
accounted for: issued, rejected (with the lines it took), header or blank.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from evservice._context import Context
from evservice.batch import Rejection, parse_period, read_batch_csv
from evservice.errors import DocumentError, ValidationError
from evservice.invoices import Invoice
from evservice.invoices import _documents as documents_module

from .test_run import (
    assert_gapless,
    bctx,
    issued_invoices,
    meter,
    plan,
    run,
    sqlite_bctx,
    write_csv,
)

__all__ = ["bctx", "sqlite_bctx"]  # fixtures, imported for this module's tests

PERIOD = parse_period("2026-10")


def _good(n: int) -> list[dict[str, object]]:
    return [meter(f"G{i:03d}", 1000, 1100 + i) for i in range(n)]


def _text(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def _rejected(summary_csv: Path) -> list[dict[str, str]]:
    with summary_csv.open(encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


@pytest.mark.parametrize(
    ("encoding", "reason"),
    [
        ("utf-16", "UTF-16"),  # with a byte order mark
        ("utf-16-le", "NUL bytes"),
        ("utf-16-be", "NUL bytes"),
        ("latin-1", "not UTF-8"),
        ("cp1258", "not UTF-8"),
    ],
)
def test_a_file_in_another_encoding_is_one_clear_error(
    tmp_path: Path, encoding: str, reason: str
) -> None:
    source = write_csv(tmp_path / "utf8.csv", _good(6))
    text = _text(source).replace("Nguyễn Văn", "Lê Thị Hà Nguyên")  # latin-1 can carry this
    path = tmp_path / f"{encoding}.csv"
    path.write_bytes(text.encode(encoding, errors="replace"))
    with pytest.raises(ValidationError) as info:
        list(read_batch_csv(path, PERIOD))
    assert info.value.field == "input"
    assert reason in info.value.reason


def test_binary_data_is_one_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "bin.csv"
    path.write_bytes(bytes(range(256)) * 100)
    with pytest.raises(ValidationError) as info:
        list(read_batch_csv(path, PERIOD))
    assert info.value.field == "input"


@settings(max_examples=40, deadline=None)
@given(data=st.binary(max_size=3000))
def test_any_bytes_give_rows_rejections_or_our_error(tmp_path_factory: pytest.TempPathFactory,
                                                     data: bytes) -> None:  # fmt: skip
    path = tmp_path_factory.mktemp("fuzz") / "in.csv"
    header = b"customer_id,name,address,meter_id,period_start,period_end,previous_index,"
    path.write_bytes(header + b"current_index\n" + data)
    try:
        items = list(read_batch_csv(path, PERIOD))
    except ValidationError as exc:
        items, field = [], exc.field
    else:
        field = "input"
    assert field == "input"
    assert all(isinstance(i, Rejection) or i.row_number >= 2 for i in items)


def test_one_bad_byte_rejects_only_its_row(bctx: Context, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "in.csv", _good(8))
    lines = path.read_bytes().split(b"\n")
    lines[4] = lines[4].replace("Văn".encode(), b"V\xe9n")  # row on line 5
    path.write_bytes(b"\n".join(lines))
    summary = run(bctx, path)
    assert (summary.issued, summary.rejected) == (7, 1)
    (rejection,) = _rejected(summary.rejected_csv)
    assert (rejection["row_number"], rejection["field"]) == ("5", "name")
    assert "0xE9" in rejection["reason"]


def test_a_cell_over_the_csv_field_limit_rejects_its_row(bctx: Context, tmp_path: Path) -> None:
    rows = _good(4)
    rows[1]["address"] = "x" * 200_000
    summary = run(bctx, write_csv(tmp_path / "in.csv", rows))
    assert (summary.issued, summary.rejected) == (3, 1)
    (rejection,) = _rejected(summary.rejected_csv)
    assert rejection["row_number"] == "3"
    assert "field limit" in rejection["reason"]


def test_an_invalid_date_in_a_subscription_row_is_rejected(bctx: Context, tmp_path: Path) -> None:
    bad = plan("S1", start="", end="2026-13-01")
    bad.pop("period_start")
    bad["days_used"] = "5"
    summary = run(bctx, write_csv(tmp_path / "in.csv", [*_good(2), bad]))
    assert (summary.issued, summary.rejected) == (2, 1)
    assert _rejected(summary.rejected_csv)[0]["field"] == "period_end"


@pytest.mark.parametrize(
    ("start", "end", "field"),
    [
        ("2026-09-15", "9999-12-31", "period_end"),  # outside the period
        ("2026-09-15", "2026-11-14", "period_end"),  # the next month
        ("2026-09-15", "2026-09-30", "period_end"),  # the month before
        ("2026-01-01", "2026-10-14", "period_start"),  # over 92 days
    ],
)
def test_reading_dates_outside_the_period_are_rejected(
    bctx: Context, tmp_path: Path, start: str, end: str, field: str
) -> None:
    summary = run(bctx, write_csv(tmp_path / "in.csv", [meter("X", 1, 2, start=start, end=end)]))
    assert (summary.issued, summary.rejected) == (0, 1)
    assert _rejected(summary.rejected_csv)[0]["field"] == field


def test_a_reading_that_ends_after_the_issue_date_is_rejected(
    bctx: Context, tmp_path: Path
) -> None:
    # The clock stands at 2026-11-01; a November reading ending on the 14th is in the future.
    row = meter("X", 1, 2, start="2026-10-15", end="2026-11-14")
    summary = run(bctx, write_csv(tmp_path / "in.csv", [row]), "2026-11", open_period=True)
    assert summary.rejected == 1
    (rejection,) = _rejected(summary.rejected_csv)
    assert rejection["field"] == "period_end"
    assert "future" in rejection["reason"]


@pytest.mark.parametrize("char", ["\x00", "\x01", "\x1b", "\x7f", "\ufffe"])
def test_a_control_character_in_a_name_rejects_only_its_row(
    bctx: Context, tmp_path: Path, char: str
) -> None:
    rows = _good(6)
    rows[2]["name"] = f"Nguyễn{char}An"
    summary = run(bctx, write_csv(tmp_path / "in.csv", rows))
    assert (summary.issued, summary.rejected) == (5, 1)
    assert _rejected(summary.rejected_csv)[0]["field"] == "name"
    assert_gapless(issued_invoices(bctx))
    again = run(bctx, write_csv(tmp_path / "in.csv", rows))  # a rerun issues nothing new
    assert (again.issued, again.already_issued, again.rejected) == (0, 5, 1)


def test_an_unterminated_quote_accounts_for_every_line(bctx: Context, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "in.csv", _good(6))
    lines = path.read_text(encoding="utf-8").split("\n")
    assert 'Hà Nội"' in lines[3]
    lines[3] = lines[3].replace('Hà Nội"', "Hà Nội", 1)  # line 4's quote is never closed
    path.write_text("\n".join(lines), encoding="utf-8")
    summary = run(bctx, path)
    rejected = _rejected(summary.rejected_csv)
    assert len(rejected) == 1
    assert rejected[0]["row_number"] == "4"
    # The open quote runs to the next quote (line 5's): both lines are that one row's.
    assert rejected[0]["lines"] == "4-5"
    assert "closing quote" in rejected[0]["reason"]
    assert summary.issued == 4  # lines 2, 3, 6 and 7
    # header + issued rows + the lines the malformed row consumed = every line
    first, last = map(int, rejected[0]["lines"].split("-"))
    assert 1 + summary.issued + (last - first + 1) + summary.blank_lines == summary.lines


def _account(summary_lines: int, blank: int, issued_lines: set[int], rejected: list[dict[str, str]]
             ) -> set[int]:  # fmt: skip
    covered = {1} | issued_lines
    for r in rejected:
        first, _, last = r["lines"].partition("-")
        covered |= set(range(int(first), int(last or first) + 1))
    return covered


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    damage=st.lists(
        st.tuples(st.integers(0, 9), st.sampled_from(['"', "\x00", "\n", "\xe9", ",,,", ""])),
        max_size=4,
    )
)
def test_every_line_is_issued_rejected_or_blank(
    sqlite_bctx: Context, tmp_path_factory: pytest.TempPathFactory, damage: list[tuple[int, str]]
) -> None:
    folder = tmp_path_factory.mktemp("lines")
    rows = [meter(f"L{i:03d}", 1000, 1100 + i) for i in range(10)]
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow(row)
    lines = buffer.getvalue().split("\n")[:-1]
    for index, text in damage:
        line = lines[index + 1]
        cut = len(line) // 2
        lines[index + 1] = line[:cut] + text + line[cut:]
    data = ("\n".join(lines) + "\n").encode("utf-8")
    data = data.replace("\xe9".encode(), b"\xe9")  # a byte that is not UTF-8
    path = folder / "in.csv"
    path.write_bytes(data)
    before = {i.invoice.draft.reference for i in issued_invoices(sqlite_bctx)}
    summary = run(sqlite_bctx, path, report_dir=folder / "report")
    after = issued_invoices(sqlite_bctx)
    assert_gapless(after)
    # Which physical line each issued row started on: its customer's line in the file.
    text_lines = data.split(b"\n")
    issued_lines: set[int] = set()
    for invoice in after:
        customer = invoice.invoice.draft.buyer.customer_code or ""
        for number, line in enumerate(text_lines, start=1):
            if (b"," + customer.encode() + b",") in b"," + line:
                issued_lines.add(number)
    rejected = _rejected(summary.rejected_csv)
    new = {i.invoice.draft.reference for i in after} - before
    assert summary.issued == len(new)
    assert summary.issued + summary.already_issued + summary.rejected == summary.rows
    covered = _account(summary.lines, summary.blank_lines, issued_lines, rejected)
    blank = {n for n, line in enumerate(text_lines[:-1], start=1) if not line.strip(b", ")}
    assert set(range(1, summary.lines + 1)) <= covered | blank


def test_an_invoice_that_cannot_be_rendered_stays_pending_and_blocks_nothing(
    bctx: Context, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Numbered but not renderable: the number stays used, the invoice pending and its row
    reported; later rows are issued; every rerun retries it; once it renders, it completes."""
    real = documents_module.render_documents

    def render(invoice: Invoice, ctx: Context | None = None) -> tuple[bytes, bytes]:
        if invoice.draft.buyer.customer_code == "G002":
            raise DocumentError(f"cannot render invoice {invoice.label}: injected")
        return real(invoice, ctx)

    path = write_csv(tmp_path / "in.csv", _good(6))
    monkeypatch.setattr(documents_module, "render_documents", render)
    summary = run(bctx, path)
    assert (summary.issued, summary.documents_pending, summary.rejected) == (6, 1, 0)
    assert summary.exit_code == 1
    (pending,) = _rejected(summary.rejected_csv)
    assert (pending["row_number"], pending["customer_id"], pending["field"]) == (
        "4",
        "G002",
        "(documents)",
    )
    assert "stays pending" in pending["reason"]
    invoices = issued_invoices(bctx)
    assert_gapless(invoices)
    assert [i.invoice.draft.buyer.customer_code for i in invoices if not i.has_documents] == [
        "G002"
    ]
    again = run(bctx, path)  # still failing: reported again, nothing else blocked
    assert (again.issued, again.already_issued, again.documents_pending) == (0, 6, 1)
    assert again.completed_pending == 0
    monkeypatch.setattr(documents_module, "render_documents", real)
    fixed = run(bctx, path)
    assert (fixed.completed_pending, fixed.documents_pending, fixed.exit_code) == (1, 0, 0)
    assert all(i.has_documents for i in issued_invoices(bctx))
    assert_gapless(issued_invoices(bctx))
