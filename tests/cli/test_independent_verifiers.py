"""The README's xmlsec1 and pdfsig commands check a bill made with the development keys."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from evservice.cli import main

from .test_init_cli import workdir  # noqa: F401 - the fixture

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "invoice_draft.json"


def test_xmlsec1_and_pdfsig_agree_with_the_readme(
    workdir: Path,  # noqa: F811 - the fixture
    capsys: pytest.CaptureFixture[str],
) -> None:
    main(["invoice", "issue", str(EXAMPLE), "--json"])
    issued = json.loads(capsys.readouterr().out)
    root = workdir / "data" / "keys" / "dev-root.pem"
    xml = subprocess.run(
        [
            "xmlsec1",
            "--verify",
            "--id-attr:Id",
            "DLHDon",
            "--trusted-pem",
            str(root),
            issued["xml"],
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert xml.returncode == 0, xml.stderr
    assert "OK" in xml.stderr + xml.stdout
    nss = workdir / "nssdb"
    nss.mkdir()
    db = f"sql:{nss}"
    subprocess.run(["certutil", "-N", "-d", db, "--empty-password"], check=True, timeout=60)
    subprocess.run(
        ["certutil", "-A", "-d", db, "-n", "evservice-dev-root", "-t", "CT,C,C", "-i", str(root)],
        check=True,
        timeout=60,
    )
    pdf = subprocess.run(
        ["pdfsig", "-nssdir", db, issued["pdf"]], capture_output=True, text=True, timeout=60
    )
    assert "Signature is Valid." in pdf.stdout, pdf.stdout
    assert "Certificate is Trusted." in pdf.stdout, pdf.stdout
