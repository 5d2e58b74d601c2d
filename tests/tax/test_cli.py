"""``evservice tax summary`` and ``tax notice`` from the command line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from evservice.cli import main
from evservice.tax import (
    MemoryGateway,
    Response,
    build_summary,
    list_messages,
    notify_correction,
    send_pending,
)

from .conftest import REPORT_PERIOD, SELLER_SETTINGS, Month
from .tvan import REASON


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    try:
        main(list(argv))
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def cli_month(month: Month, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Month:
    """The CLI reads the environment: point it at the month's store and data dir."""
    settings = month.ctx.settings
    monkeypatch.chdir(tmp_path)
    for name, value in SELLER_SETTINGS.items():
        monkeypatch.setenv(f"EVSERVICE_{name.upper()}", value)
    monkeypatch.setenv("EVSERVICE_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("EVSERVICE_DATABASE_URL", str(settings.database_url))
    return month


def test_summary_then_rerun_then_a_notice(
    cli_month: Month, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = _run(capsys, "tax", "summary", "--period", REPORT_PERIOD, "--json")
    assert code == 0, err
    first = json.loads(out)
    assert len(first["created"]) == len(first["tables"]) == 1
    assert first["tables"][0]["rows"] >= 32
    code, out, _ = _run(capsys, "tax", "summary", "--period", REPORT_PERIOD)
    assert code == 0
    assert out.startswith(f"{REPORT_PERIOD}: 0 new table(s), 1 in all")
    code, out, _ = _run(capsys, "tax", "notice", cli_month.replacement.label, "--json")
    assert code == 0
    assert json.loads(out)["kind"] == 3
    code, _, err = _run(capsys, "tax", "summary", "--period", "2026-13")
    assert code == 2
    assert "period" in err
    code, _, err = _run(
        capsys, "tax", "explain", cli_month.adjusted.label, "--reason", "Sai địa chỉ",
        "--authority-notice", "12/TB@30-10-2026",
    )  # fmt: skip
    assert code == 2
    assert "authority_notice" in err


def test_status_shows_pending_accepted_and_rejected_with_the_reason(
    cli_month: Month, capsys: pytest.CaptureFixture[str]
) -> None:
    ctx = cli_month.ctx
    build_summary(REPORT_PERIOD, ctx=ctx, max_rows=20)
    notify_correction(cli_month.replacement.row_id, ctx=ctx)
    first, second, _ = (m.id for m in list_messages(ctx))
    gateway = MemoryGateway()
    send_pending(ctx, gateway)
    gateway.answers += [
        Response(id="R1", message_id=first, type="204", accepted=True),
        Response(id="R2", message_id=second, type="204", accepted=False, reasons=(REASON,)),
    ]
    send_pending(ctx, gateway)
    code, out, err = _run(capsys, "tax", "status")
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0] == "pending: 1"
    assert "accepted: 1" in lines
    assert "rejected: 1" in lines
    assert f"lý do: {REASON}" in out
    assert "bị từ chối" in out
    code, out, _ = _run(capsys, "tax", "status", "--status", "rejected", "--json")
    (row,) = json.loads(out)
    assert row["reasons"] == [REASON]
    code, _, err = _run(capsys, "tax", "status", "--status", "lost")
    assert code == 2
    assert "status" in err


def test_send_queues_coded_invoices_once_and_delivers_none_before_the_code(
    cli_month: Month, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EVSERVICE_TAX_CODED_SERIES", "1C26TEV")
    code, out, err = _run(capsys, "tax", "send", "--json")
    assert code == 0, err
    report = json.loads(out)
    assert report["queued_for_code"] == 32
    assert report["submitted"] == 32  # through the file drop
    assert report["coded_delivered"]["invoices"] == 0  # waiting for the code
    code, out, err = _run(capsys, "tax", "send")
    assert code == 0, err
    assert out.startswith("queued for code 0, submitted 0")


def test_issuing_an_invoice_of_a_coded_series_queues_it_for_its_code(
    cli_month: Month,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    monkeypatch.setenv("EVSERVICE_TAX_CODED_SERIES", "1C26TEV")
    draft = cli_month.adjusted.invoice.draft.model_copy(update={"reference": "cli-coded-1"})
    source = tmp_path / "draft.json"
    source.write_text(draft.model_dump_json(), encoding="utf-8")
    code, out, err = _run(capsys, "invoice", "issue", str(source), "--json")
    assert code == 0, err
    issued = json.loads(out)
    assert "waiting for the tax authority's code: message" in err
    (message,) = [m for m in list_messages(cli_month.ctx) if m.subject_id == issued["id"]]
    assert message.type == "200"
    code, out, err = _run(capsys, "invoice", "issue", str(source))  # the same reference
    assert code == 0, err
    assert f"message {message.id}" in err


def test_the_batch_command_queues_its_coded_invoices(
    cli_month: Month,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    from evservice.batch import parse_period, write_demo_csv

    from .conftest import BATCH_PERIOD

    monkeypatch.setenv("EVSERVICE_TAX_CODED_SERIES", "1C26TEV")
    source = write_demo_csv(tmp_path / "again.csv", customers=30, period=parse_period(BATCH_PERIOD))
    argv = ("invoice", "batch", str(source), "--period", BATCH_PERIOD, "--workers", "0")
    code, out, err = _run(capsys, *argv, "--json")
    assert code == 0, err
    assert json.loads(out)["counts"]["already_issued"] == 30
    assert "queued 32 invoice(s) for the tax authority's code" in err
    code, _, err = _run(capsys, *argv, "--json")
    assert "queued 0 invoice(s)" in err
