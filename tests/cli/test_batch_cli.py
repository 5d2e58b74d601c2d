"""``evservice invoices batch``, ``demo-data`` and ``demo``: output and exit codes 0, 1, 2."""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from evservice.batch import last_finished_period
from evservice.cli import main
from evservice.clock import vn_date
from evservice.config import get_settings

TODAY = vn_date(datetime.now(UTC))
PERIOD = str(last_finished_period(TODAY))
SELLER_ENV = {
    "EVSERVICE_SELLER_NAME": "Công ty Điện lực Hoàn Kiếm",
    "EVSERVICE_SELLER_TAX_CODE": "0100101114",
    "EVSERVICE_SELLER_ADDRESS": "69 Đinh Tiên Hoàng, Hà Nội",
}


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A fresh data dir and a seller, through the environment, as an operator sets them."""
    for name in [n for n in os.environ if n.startswith("EVSERVICE_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("EVSERVICE_DATA_DIR", str(tmp_path / "data"))
    for name, value in SELLER_ENV.items():
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(tmp_path)  # no stray .env
    get_settings.cache_clear()
    yield tmp_path
    get_settings.cache_clear()


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    try:
        main(list(argv))
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def demo_data(capsys: pytest.CaptureFixture[str], out: Path, customers: int, *extra: str) -> Path:
    code, text, err = run(
        capsys, "demo-data", "--customers", str(customers), "--period", PERIOD,
        "--out", str(out), *extra,
    )  # fmt: skip
    assert (code, err) == (0, ""), err
    assert str(out) in text
    return out


def batch(capsys: pytest.CaptureFixture[str], source: Path, *extra: str) -> tuple[int, Any, str]:
    code, out, err = run(
        capsys, "invoices", "batch", str(source), "--period", PERIOD, "--workers", "0", *extra
    )
    return code, (json.loads(out) if "--json" in extra and code in (0, 1) else out), err


def test_demo_data_writes_what_it_says(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    first = demo_data(capsys, workdir / "a.csv", 12, "--bad-rows", "2")
    with first.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 14
    assert sum(r["customer_id"].startswith("BAD") for r in rows) == 2
    assert any(r["row_type"] == "meter" for r in rows)
    again = demo_data(capsys, workdir / "b.csv", 12, "--bad-rows", "2")
    assert again.read_bytes() == first.read_bytes()  # same seed, same file
    other = demo_data(capsys, workdir / "c.csv", 12, "--bad-rows", "2", "--seed", "7")
    assert other.read_bytes() != first.read_bytes()
    code, _, err = run(capsys, "demo-data", "--customers", "3", "--period", "2026-13")
    assert code == 2
    assert "period" in err


def test_batch_exit_codes(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    clean = demo_data(capsys, workdir / "clean.csv", 6)
    code, summary, err = batch(capsys, clean, "--json")
    assert (code, err) == (0, "")
    assert summary["counts"]["issued"] == 6
    assert summary["numbers"] == {"first": 1, "last": 6}
    assert summary["issue_date"] == TODAY.isoformat()
    assert summary["series"] == f"C{TODAY.year % 100:02d}TEV"

    # The same customers plus two bad rows: nothing new to issue, the bad rows reported.
    dirty = demo_data(capsys, workdir / "dirty.csv", 6, "--bad-rows", "2")
    code, summary, err = batch(capsys, dirty, "--json")
    assert code == 1
    assert summary["counts"]["already_issued"] == 6
    assert summary["counts"]["rejected"] == 2
    with Path(summary["paths"]["rejected_csv"]).open(encoding="utf-8") as handle:
        report = list(csv.DictReader(handle))
    assert [r["field"] for r in report] == ["tax_code", "households"]

    code, _, err = batch(capsys, clean, "--series", "C20TEV")
    assert code == 2
    assert err.startswith("error: series:")
    code, _, err = batch(capsys, clean, "--engine", "dask")
    assert code == 2
    assert "scheduler" in err
    code, _, err = batch(capsys, workdir / "missing.csv")
    assert code == 2
    assert "input" in err


def test_a_missing_seller_exits_2_naming_the_settings(
    workdir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    source = demo_data(capsys, workdir / "in.csv", 2)
    monkeypatch.delenv("EVSERVICE_SELLER_NAME")
    code, _, err = batch(capsys, source)
    assert code == 2
    assert "EVSERVICE_SELLER_NAME" in err


def test_the_summary_is_printed_for_people(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = demo_data(capsys, workdir / "in.csv", 4, "--bad-rows", "1")
    code, out, err = batch(capsys, source)
    assert (code, err) == (1, "")
    for text in ("issued now", "rejected", "By VAT rate", "invoices per second", "rejected.csv"):
        assert text in out
    assert "BAD000000" in out  # the rejected row, with its field and reason
    assert "tax_code" in out


def test_demo_runs_the_main_job_and_can_run_again(
    workdir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in SELLER_ENV:
        monkeypatch.delenv(name)  # the demo seller stands in
    code, out, err = run(capsys, "demo", "--customers", "5", "--workers", "0", "--json")
    assert (code, err) == (0, "")
    summary = json.loads(out)
    assert summary["counts"]["issued"] == 5
    assert summary["counts"]["rejected"] == 0
    assert summary["deliveries"]["sent"] == summary["deliveries"]["email"] + summary[
        "deliveries"
    ].get("sms", 0)
    data = workdir / "data"
    assert len(list((data / "invoices").rglob("*.pdf"))) == 5
    assert any((data / "outbox").iterdir())
    assert (data / "keys").is_dir()

    code, out, err = run(capsys, "demo", "--customers", "5", "--workers", "0", "--bad-rows", "1")
    assert code == 1  # a rejected row: the report is shown and the status says so
    assert "already issued" in out
    assert "Rejected rows (1)" in out
    assert str(data / "invoices") in out


def test_a_month_that_has_not_ended_is_refused_unless_asked(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    this_month = f"{TODAY.year:04d}-{TODAY.month:02d}"
    source = workdir / "open.csv"
    code, _, _ = run(
        capsys, "demo-data", "--customers", "3", "--period", this_month, "--out", str(source)
    )
    assert code == 0
    code, _, err = run(capsys, "invoices", "batch", str(source), "--period", this_month)
    assert code == 2
    assert err.startswith(f"error: period: {this_month} has not ended by the issue date")
    assert len(err.splitlines()) == 1


def test_a_file_that_is_not_utf8_exits_2_with_one_line(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    clean = demo_data(capsys, workdir / "clean.csv", 3)
    for encoding in ("utf-16", "utf-16-le", "cp1258"):
        path = workdir / f"{encoding}.csv"
        path.write_bytes(clean.read_text(encoding="utf-8").encode(encoding, errors="replace"))
        code, _, err = batch(capsys, path)
        assert code == 2
        assert err.startswith("error: input:")
        assert "Traceback" not in err
        assert len(err.strip().splitlines()) == 1
