"""examples/issue_invoice.py runs as an integrator would run it, and does what it says."""

from __future__ import annotations

import hashlib
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

from evservice.invoices import lookup, parse_invoice_xml

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "issue_invoice.py"


def _fields(output: str) -> dict[str, str]:
    """``name  value`` lines of the example's output."""
    fields = {}
    for line in output.splitlines():
        name, _, value = line.partition("  ")
        fields[name.strip()] = value.strip()
    return fields


def test_example_issues_a_bill_and_is_idempotent(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data_dir = tmp_path / "data"
    env = {k: v for k, v in os.environ.items() if not k.startswith("EVSERVICE_")}
    done = subprocess.run(
        [sys.executable, str(EXAMPLE), str(data_dir)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        check=False,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    lines = done.stdout.splitlines()
    assert lines[0].startswith("issued 1C")
    assert lines[0].endswith("-00000001 (237 kWh)")
    fields = _fields(done.stdout)
    assert lookup.is_valid(fields["lookup code"])
    assert fields["total"] in {"594.676 VND", "605.689 VND"}  # VAT 8% (to 2026) or 10%
    xml, pdf = Path(fields["xml"]), Path(fields["pdf"])
    assert xml.parent.parent.parent == data_dir / "invoices"
    assert pdf.read_bytes().startswith(b"%PDF-")
    parsed = parse_invoice_xml(xml.read_bytes())
    assert parsed.number == 1
    assert parsed.lookup_code == fields["lookup code"]
    assert [line.quantity for line in parsed.draft.lines] == [50, 50, 100, 37]
    assert (data_dir / "evservice.db").exists()
    assert lines[-1].startswith("found again  1C")
    assert lines[-1].endswith("[issued]")

    # Run again in process with the same data dir: nothing new is issued.
    spec = importlib.util.spec_from_file_location("issue_invoice_example", EXAMPLE)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    before = hashlib.sha256(pdf.read_bytes()).hexdigest()
    assert module.main(["issue_invoice.py", str(data_dir)]) == 0
    again = capsys.readouterr().out
    assert again.splitlines()[0] == lines[0].replace("issued", "already issued", 1)
    assert _fields(again)["lookup code"] == fields["lookup code"]
    assert hashlib.sha256(pdf.read_bytes()).hexdigest() == before
