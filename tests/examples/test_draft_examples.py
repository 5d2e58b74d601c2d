"""The example drafts (examples/contract_draft.json, invoice_draft.json) work as they are."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from evservice.cli import main
from evservice.config import get_settings

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    import evservice._context as context_module

    monkeypatch.setenv("EVSERVICE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("EVSERVICE_DATABASE_URL", raising=False)
    monkeypatch.chdir(tmp_path)
    get_settings.cache_clear()
    monkeypatch.setattr(context_module, "_default", None)
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


def test_the_contract_draft_creates_a_contract(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(
        capsys, "contract", "create", str(EXAMPLES / "contract_draft.json"), "--json"
    )
    assert (code, err) == (0, "")
    created = json.loads(out)
    assert created["kind"] == "electricity"
    assert created["status"] == "draft"


def test_the_invoice_draft_issues_a_bill_that_verifies(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    draft = str(EXAMPLES / "invoice_draft.json")
    code, out, err = run(capsys, "invoice", "issue", draft, "--json")
    assert (code, err) == (0, "")
    issued = json.loads(out)
    code, out, _ = run(capsys, "verify", issued["pdf"])
    assert code == 0, out
