"""``evservice payments``: import (camt and CSV), status (text and JSON), statement, review."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from evservice._context import Context
from evservice.cli import main
from evservice.payments import reference
from evservice.reconcile import Receivable, open_receivables

from ..reconcile.camt import Entry, camt


@pytest.fixture
def ctx(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Context]:
    import evservice._context as context_module
    from evservice.config import get_settings

    monkeypatch.setenv("EVSERVICE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.chdir(tmp_path)
    get_settings.cache_clear()
    monkeypatch.setattr(context_module, "_default", None)
    yield Context.default()
    get_settings.cache_clear()


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    try:
        main(list(argv))
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def _bills(ctx: Context) -> None:
    open_receivables(
        [
            Receivable(
                invoice_id=f"inv-{n}",
                reference=reference.make("1", "C26TAA", n),
                label=f"1C26TAA-{n:08d}",
                customer_id="PE01" if n < 3 else f"PE0{n}",
                issue_date=date(2026, 11, 1),
                due_date=date(2026, 11, 11 + n),
                amount_due=Decimal(amount),
                before_tax=Decimal(amount),
            )
            for n, amount in ((1, 100_000), (2, 200_000), (3, 300_000), (4, 400_000))
        ],
        ctx=ctx,
    )


def test_import_status_statement_and_review(
    ctx: Context, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _bills(ctx)
    statement = tmp_path / "stmt.xml"
    statement.write_bytes(
        camt(
            [
                Entry("100000", f"HD {reference.make('1', 'C26TAA', 1)}", ref="A"),
                Entry("50000", f"HD {reference.make('1', 'C26TAA', 2)}", ref="B"),
                Entry("400000", "tien dien PE04", ref="C"),
            ]
        )
    )
    code, out, _ = _run(capsys, "payments", "import", str(statement), "--dry-run")
    assert code == 1  # one transfer waits for review
    assert "applied 2, needs_review 1" in out
    assert "(dry run)" in out
    code, out, _ = _run(capsys, "payments", "import", str(statement), "--json")
    report = json.loads(out)
    assert report["counts"] == {"applied": 2, "needs_review": 1}
    [review] = report["review"]
    assert review["invoice_id"] == "inv-4"
    code, out, _ = _run(capsys, "payments", "import", str(statement))
    assert "duplicate 3" in out
    assert code == 0

    code, out, _ = _run(
        capsys, "payments", "status", "--period", "2026-11", "--as-of", "2026-11-14", "--json"
    )
    status = json.loads(out)
    assert status["groups"]["paid"] == {
        "count": 1,
        "amount_due": 100_000,
        "paid": 100_000,
        "outstanding": 0,
    }
    assert status["groups"]["overdue"]["count"] == 1  # bill 2, due on the 13th, partly paid
    assert status["groups"]["overdue"]["outstanding"] == 150_000
    assert status["groups"]["unpaid"]["count"] == 2
    assert status["ageing"]["1-30"]["outstanding"] == 150_000
    assert status["ageing"]["not due"]["outstanding"] == 700_000
    code, out, _ = _run(
        capsys, "payments", "status", "--period", "2026-11", "--as-of", "2026-11-14"
    )
    assert code == 0
    assert "overdue" in out
    assert "150.000 đ" in out

    code, out, _ = _run(capsys, "payments", "review", review["key"])
    assert "applied 400000 d to inv-4" in out
    code, out, _ = _run(capsys, "payments", "statement", "PE01", "--json")
    data = json.loads(out)
    assert data["outstanding"] == 150_000
    assert [i["paid"] for i in data["invoices"]] == [100_000, 50_000]
    code, out, _ = _run(capsys, "payments", "statement", "PE01")
    assert "outstanding" in out
    assert "1C26TAA-00000002" in out


def test_csv_import_with_columns_and_errors(
    ctx: Context, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _bills(ctx)
    csv = tmp_path / "vcb.csv"
    ref = reference.make("1", "C26TAA", 3)
    csv.write_text(f"So GD;Ngay;So tien;Noi dung\nX1;05/11/2026;300.000;HD {ref}\n", "utf-8")
    code, out, _ = _run(
        capsys,
        "payments",
        "import",
        str(csv),
        "--format",
        "csv",
        "--col-id",
        "So GD",
        "--col-date",
        "Ngay",
        "--col-amount",
        "So tien",
        "--col-memo",
        "Noi dung",
        "--date-format",
        "%d/%m/%Y",
        "--delimiter",
        ";",
        "--thousands",
        ".",
    )
    assert code == 0, out
    assert "applied 1" in out
    code, _, err = _run(capsys, "payments", "statement", "NOBODY")
    assert code == 2
    assert "NOBODY" in err
    code, _, err = _run(capsys, "payments", "status", "--period", "2026-13")
    assert code == 2
    assert err.startswith("error: period:")
    code, _, err = _run(capsys, "payments", "import", str(tmp_path / "missing.xml"))
    assert code == 2
