"""examples/consent_flow.py runs end to end through a real SMTP server on loopback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import evservice
from evservice import Context, Settings, audit

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "consent_flow.py"


def test_consent_flow_example_seals_a_verifiable_contract(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    env = {k: v for k, v in os.environ.items() if not k.startswith("EVSERVICE_")}
    done = subprocess.run(
        [sys.executable, str(EXAMPLE), str(data_dir)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        check=False,
        timeout=180,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    assert "code mailed to the customer at b***@example.com" in out
    assert "representative confirmed: the contract is sealed" in out
    assert "binh.le@example.com" not in out + done.stderr  # only masked
    final = Path(out.strip().splitlines()[-1].removeprefix("sealed contract: "))
    assert final.is_file()
    ctx = Context(settings=Settings(data_dir=data_dir, _env_file=None))  # type: ignore[call-arg]
    report = evservice.verify(final, ctx=ctx)
    assert report.ok, report.text()
    assert audit.verify_log(ctx).ok
