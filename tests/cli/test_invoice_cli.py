"""``evservice invoice``: issue, show, list, render, replace, adjust, history; exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from lxml import etree

from evservice.cli import main
from evservice.clock import vn_date
from evservice.config import get_settings

TODAY = vn_date(datetime.now(UTC))
SERIES = f"C{TODAY.year % 100:02d}TAA"
EVSERVICE = Path(sys.executable).with_name("evservice")


def make_draft(reference: str, quantity: str = "120", **changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "series": SERIES,
        "issue_date": TODAY.isoformat(),
        "reference": reference,
        "seller": {
            "name": "Công ty Điện lực Hải Dương",
            "tax_code": "0100100079",
            "address": "Hải Dương",
        },
        "buyer": {"person_name": "Lê Thị Hoa", "customer_code": "PA03000003"},
        "lines": [
            {
                "name": "Điện sinh hoạt",
                "unit": "kWh",
                "quantity": quantity,
                "unit_price": "2050",
                "vat_rate": "8%",
            }
        ],
    }
    data.update(changes)
    return data


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A fresh data dir through the environment, as an operator would set it."""
    monkeypatch.setenv("EVSERVICE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("EVSERVICE_DATABASE_URL", raising=False)
    monkeypatch.chdir(tmp_path)  # no stray .env
    get_settings.cache_clear()
    yield tmp_path
    get_settings.cache_clear()


def write(path: Path, data: dict[str, Any]) -> str:
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return str(path)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    try:
        main(list(argv))
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def test_issue_show_list_render(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    draft = write(workdir / "bill.json", make_draft("PA03000003-2026-11"))
    code, out, err = run(capsys, "invoice", "issue", draft)
    assert (code, err) == (0, "")
    label = f"1{SERIES}-00000001"
    assert out.splitlines()[0] == f"issued {label}"
    assert "265.680 VND" in out  # 120 kWh x 2,050 = 246,000 + 8% VAT
    xml = workdir / "data" / "invoices" / str(TODAY.year) / f"1{SERIES}" / "00000001.xml"
    assert f"xml          {xml}" in out
    assert xml.exists()
    assert xml.with_suffix(".pdf").exists()

    code, out, _ = run(capsys, "invoice", "issue", draft, "--json")
    again = json.loads(out)
    assert code == 0
    assert again["created"] is False
    assert again["label"] == label
    assert again["total_payable"] == "265680"
    lookup_code = again["lookup_code"]

    code, out, _ = run(capsys, "invoice", "show", lookup_code)
    assert code == 0
    assert out.startswith(f"{label}  Hóa đơn giá trị gia tăng  [issued]")
    assert "Lê Thị Hoa" in out
    assert "VAT 8%" in out

    code, out, _ = run(capsys, "invoice", "show", label, "--json")
    shown = json.loads(out)
    assert shown["id"] == again["id"]
    assert shown["draft"]["lines"][0]["unit_price"] == "2050"

    run(capsys, "invoice", "issue", write(workdir / "b2.json", make_draft("second")))
    code, out, _ = run(capsys, "invoice", "list")
    assert code == 0
    assert [line.split()[0] for line in out.splitlines()] == [label, f"1{SERIES}-00000002"]

    code, out, _ = run(capsys, "invoice", "render", label, "--out", str(workdir / "copy"))
    assert code == 0
    copy = workdir / "copy" / f"{label}.xml"
    assert f"xml  {copy}" in out
    # Signed again now, so the signature differs; the invoice content must not.
    assert _content(copy) == _content(xml)


def _content(path: Path) -> bytes:
    root = etree.fromstring(path.read_bytes())
    (content,) = root.xpath("//*[local-name()='DLHDon']")
    return etree.tostring(content, method="c14n")


def test_replace_adjust_history(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run(capsys, "invoice", "issue", write(workdir / "a.json", make_draft("A")))
    run(capsys, "invoice", "issue", write(workdir / "b.json", make_draft("B")))
    a, b = f"1{SERIES}-00000001", f"1{SERIES}-00000002"

    fix = write(workdir / "a-r.json", make_draft("A-r", quantity="110"))
    code, out, err = run(capsys, "invoice", "replace", a, fix, "--reason", "Sai chỉ số")
    assert (code, err) == (0, "")
    assert out.splitlines()[0] == f"issued replacement 1{SERIES}-00000003"

    down = write(workdir / "b-a.json", make_draft("B-a", quantity="-20"))
    code, out, _ = run(capsys, "invoice", "adjust", b, down, "--reason", "Giảm 20 kWh", "--json")
    adjusted = json.loads(out)
    assert code == 0
    assert adjusted["correction_kind"] == "adjustment"
    assert adjusted["total_payable"] == "-44280"

    code, out, _ = run(capsys, "invoice", "history", a)
    lines = out.splitlines()
    assert code == 0
    assert lines[0].split()[:3] == [a, TODAY.isoformat(), "replaced"]
    assert lines[1].split()[3] == "replacement"

    code, out, _ = run(capsys, "invoice", "show", f"1{SERIES}-00000004")
    assert f"adjustment of {b}" in out
    assert "Giảm 20 kWh" in out

    # A replaced invoice is final: one clear line, exit 2.
    again = write(workdir / "a-r2.json", make_draft("A-r2"))
    code, out, err = run(capsys, "invoice", "replace", a, again, "--reason", "Lại")
    assert code == 2
    assert err == "error: invoice cannot go from 'replaced' to 'replaced'\n"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["show", "1C26TAA-00000009"], "error: no invoice 1C26TAA-00000009\n"),
        (["show", "nonsense"], "error: key: is neither"),
        (["issue", "missing.json"], "error: DRAFT: cannot read missing.json"),
        (["issue", "bad-mst.json"], "error: seller.tax_code: is not a valid Vietnamese tax code"),
        (["issue", "bad-rate.json"], "error: lines.0.vat_rate: unknown VAT rate"),
        (["issue", "not-json.json"], "error: (document): is not valid JSON"),
    ],
)
def test_errors_exit_2_with_one_line(
    workdir: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    bad_seller = make_draft("x")["seller"] | {"tax_code": "0100100078"}
    write(workdir / "bad-mst.json", make_draft("x", seller=bad_seller))
    bad_line = make_draft("x")["lines"][0] | {"vat_rate": "7%"}
    write(workdir / "bad-rate.json", make_draft("x", lines=[bad_line]))
    (workdir / "not-json.json").write_text("{", encoding="utf-8")
    code, out, err = run(capsys, "invoice", *argv)
    assert code == 2
    assert out == ""
    assert err.startswith(message)
    assert err.count("\n") == 1


def test_plural_alias(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``invoices`` is a hidden alias of ``invoice`` (for ``evservice invoices batch``)."""
    draft = write(workdir / "bill.json", make_draft("S-1"))
    code, out, _ = run(capsys, "invoices", "issue", draft, "--json")
    assert code == 0
    assert json.loads(out)["number"] == 1


def test_installed_command_exits_2_with_one_line(workdir: Path) -> None:
    """The console script as an operator runs it, on a draft dated in the future."""
    env = {**os.environ, "EVSERVICE_DATA_DIR": str(workdir / "data")}
    write(workdir / "late.json", make_draft("S-2", issue_date="2099-01-01", series="C99TAA"))
    failed = subprocess.run(
        [str(EVSERVICE), "invoice", "issue", "late.json"],
        capture_output=True,
        text=True,
        env=env,
        cwd=workdir,
        check=False,
    )
    assert failed.returncode == 2
    assert failed.stdout == ""
    assert failed.stderr.startswith("error: issue_date: 2099-01-01 is after today")
    assert failed.stderr.count("\n") == 1


def test_complete_writes_missing_documents(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from evservice._context import Context
    from evservice.config import Settings
    from evservice.invoices import record_invoice

    record_invoice(make_draft("P-1"), ctx=Context(settings=Settings()))
    code, out, _ = run(capsys, "invoice", "show", f"1{SERIES}-00000001")
    assert "(pending)" in out
    code, out, _ = run(capsys, "invoice", "complete")
    assert code == 0
    assert out.splitlines()[0] == "completed 1 invoice"
    code, out, _ = run(capsys, "invoice", "complete", "--json")
    assert json.loads(out) == []
