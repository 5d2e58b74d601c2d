"""``evservice otp``: enrol an authenticator app, confirm it, sign a contract with it."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from tests.cli.test_contract_cli import DRAFT, _newest_code, run, workdir

from evservice import otp

__all__ = ["workdir"]  # the fixture, imported for this module's tests


def _now(seconds: int = 0) -> datetime:
    return datetime.now(UTC) + timedelta(seconds=seconds)


def test_enrol_confirm_and_sign(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "otp", "enrol", "PD0123", "--svg", str(workdir / "qr.svg"))
    assert (code, err) == (0, "")
    assert "█" in out  # the QR code, drawn in the terminal
    uri = next(line.split()[1] for line in out.splitlines() if line.strip().startswith("uri"))
    assert uri.startswith("otpauth://totp/evservice:PD0123?secret=")
    assert (workdir / "qr.svg").read_text().startswith("<svg")
    assert oct((workdir / "qr.svg").stat().st_mode & 0o777) == "0o600"
    assert "/totp/" in out

    code, out, err = run(capsys, "otp", "enrol", "PD0124", "--json")
    enrolled = json.loads(out)
    secret = enrolled["secret"]
    assert enrolled["status"] == "pending"

    code, out, err = run(capsys, "otp", "confirm", enrolled["enrolment_id"], "123")
    assert code == 2
    assert err.startswith("error: code:")
    first = otp.totp_code(secret, _now(-30))  # the previous step: the next one then signs
    code, out, err = run(capsys, "otp", "confirm", enrolled["enrolment_id"], first, "--json")
    assert (code, err) == (0, "")
    recovery = json.loads(out)["recovery_codes"]
    assert len(recovery) == 10
    code, out, err = run(capsys, "otp", "status", "PD0124")
    assert "10 recovery codes left" in out

    draft = dict(DRAFT, customer={**DRAFT["customer"], "customer_code": "PD0124"})  # type: ignore[dict-item]
    path = workdir / "contract.json"
    path.write_text(json.dumps(draft, ensure_ascii=False), encoding="utf-8")
    assert run(capsys, "contract", "create", str(path))[0] == 0
    code, out, err = run(capsys, "contract", "send", "HD2026-000001", "--channel", "totp")
    assert (code, err) == (0, "")
    assert "authenticator app" in out
    assert "page http://127.0.0.1:8000/c/" in out
    assert not (workdir / "data" / "outbox").exists() or not list(
        (workdir / "data" / "outbox").rglob("*.*")
    )
    code, out, err = run(capsys, "contract", "send", "HD2026-000001", "--channel", "totp", "--json")
    challenge = json.loads(out)["challenge_id"]
    code, out, err = run(capsys, "contract", "confirm", challenge, otp.totp_code(secret, _now()))
    assert (code, err) == (0, ""), err
    assert "[consented]" in out

    code, out, err = run(
        capsys, "contract", "send", "HD2026-000001", "--channel", "email", "--json"
    )
    rep = json.loads(out)["challenge_id"]
    outbox = workdir / "data" / "outbox"
    code, out, err = run(capsys, "contract", "confirm", rep, _newest_code(outbox))
    assert "[sealed]" in out

    code, out, err = run(capsys, "otp", "recovery-codes", "PD0124", "--json")
    fresh = json.loads(out)["recovery_codes"]
    assert not set(fresh) & set(recovery)
    code, out, err = run(capsys, "otp", "revoke", "PD0124")
    assert "revoked" in out
    code, out, err = run(capsys, "otp", "status", "PD0124")
    assert code == 2
    assert "no active authenticator app" in err
    code, out, err = run(capsys, "otp", "enrol", "0912345678")
    assert code == 2
    assert err.startswith("error: holder:")
    assert "0912345678" not in err
