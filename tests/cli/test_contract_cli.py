"""``evservice contract``: create, send a code through the file outbox, confirm twice, seal."""

from __future__ import annotations

import email
import email.policy
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path

import pytest

from evservice.cli import main
from evservice.config import get_settings

DRAFT = {
    "provider": {
        "name": "Công ty Viễn thông Mẫu",
        "tax_code": "0100109106",
        "address": "1 Phạm Văn Bạch, Hà Nội",
        "representative": "Phạm Minh Quân",
        "representative_email": "daidien@vienthong.example",
    },
    "customer": {"name": "Lê Văn Bình", "address": "5 Lý Thường Kiệt", "phone": "0912345678"},
    "terms": {
        "kind": "internet",
        "service_address": "5 Lý Thường Kiệt",
        "plan": "Home 300",
        "monthly_fee": "220000",
    },
    "start_date": "2026-12-01",
}


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("EVSERVICE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("EVSERVICE_DATABASE_URL", raising=False)
    monkeypatch.delenv("EVSERVICE_DELIVERY_CHANNEL", raising=False)
    monkeypatch.chdir(tmp_path)
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


def _newest_code(outbox: Path) -> str:
    """The code in the newest message the file outbox holds (what the signer reads)."""
    newest = max(outbox.rglob("*.*"), key=lambda p: p.stat().st_mtime_ns)
    if newest.suffix == ".eml":
        mail = email.message_from_bytes(newest.read_bytes(), policy=email.policy.default)
        body = mail.get_body(preferencelist=("plain",))
        assert isinstance(body, EmailMessage)
        text = body.get_content()
    else:
        text = json.loads(newest.read_text(encoding="utf-8"))["text"]
    match = re.search(r"(?<![\w-])(\d{6})(?!\w)", text)
    assert match is not None
    return match.group(1)


def test_contract_from_draft_to_seal(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    draft = workdir / "contract.json"
    draft.write_text(json.dumps(DRAFT, ensure_ascii=False), encoding="utf-8")
    code, out, err = run(capsys, "contract", "create", str(draft), "--json")
    assert (code, err) == (0, "")
    created = json.loads(out)
    assert created["number"] == "HD2026-000001"
    assert created["status"] == "draft"

    outbox = workdir / "data" / "outbox"
    for channel, expected in (("sms", "consented"), ("email", "sealed")):
        code, out, err = run(
            capsys, "contract", "send", "HD2026-000001", "--channel", channel, "--json"
        )
        assert (code, err) == (0, "")
        sent = json.loads(out)
        assert "0912345678" not in out
        code, out, err = run(
            capsys,
            "contract",
            "confirm",
            sent["challenge_id"],
            _newest_code(outbox),
            "--ip",
            "203.0.113.9",
        )
        assert (code, err) == (0, "")
        assert f"[{expected}]" in out

    code, out, _ = run(capsys, "contract", "show", "HD2026-000001")
    assert "signer 2: Phạm Minh Quân (representative)" in out
    code, out, _ = run(
        capsys, "verify", str(workdir / "data/contracts/2026/HD2026-000001/final.pdf")
    )
    assert code == 0, out

    code, _, err = run(capsys, "contract", "void", "HD2026-000001", "--reason", "late")
    assert code == 2
    assert err.startswith("error: contract cannot go from 'sealed' to 'voided'")


def _cli(workdir: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    """The real command in its own process: what an operator's terminal shows."""
    env = {**os.environ, "EVSERVICE_DATA_DIR": str(workdir / "data")}
    env.pop("EVSERVICE_LOG_LEVEL", None)
    return subprocess.run(
        [sys.executable, "-c", "from evservice.cli import main; main()", *argv],
        capture_output=True,
        text=True,
        env=env,
        cwd=workdir,
        check=False,
    )


def test_every_refusal_prints_one_line(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    draft = workdir / "contract.json"
    draft.write_text(json.dumps(DRAFT, ensure_ascii=False), encoding="utf-8")
    run(capsys, "contract", "create", str(draft))
    _, out, _ = run(capsys, "contract", "send", "HD2026-000001", "--channel", "sms", "--json")
    challenge = json.loads(out)["challenge_id"]
    right = _newest_code(workdir / "data" / "outbox")
    wrong = "000000" if right != "000000" else "111111"
    refused = _cli(workdir, "contract", "confirm", challenge, wrong)
    assert refused.returncode == 2
    assert refused.stderr.splitlines() == [
        f"error: wrong code for challenge {challenge}; 4 tries left"
    ]
    assert _cli(workdir, "contract", "confirm", challenge, right).returncode == 0
    used = _cli(workdir, "contract", "confirm", challenge, right)
    assert used.returncode == 2
    assert len(used.stderr.splitlines()) == 1
    assert used.stderr.startswith(f"error: challenge {challenge} was already confirmed")
