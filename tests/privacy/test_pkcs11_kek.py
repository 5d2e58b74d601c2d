"""A KEK that never leaves a PKCS#11 token (SoftHSM2): data keys wrapped on the token.

The work runs in a subprocess (``_token.py``): SoftHSM reads its token folder
once per process, and the signing tests keep theirs.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_fields_sealed_under_a_token_kek(tmp_path: Path, db_url: str) -> None:
    (tmp_path / "tokens").mkdir()
    conf = tmp_path / "softhsm2.conf"
    conf.write_text(f"directories.tokendir = {tmp_path / 'tokens'}\nobjectstore.backend = file\n")
    env = {**os.environ, "SOFTHSM2_CONF": str(conf), "PYTHONPATH": f"{ROOT}:{ROOT / 'src'}"}
    subprocess.run(
        ["softhsm2-util", "--init-token", "--free", "--label", "evs-privacy-token",
         "--pin", "123456", "--so-pin", "654321"],
        check=True, capture_output=True, timeout=60, env=env,
    )  # fmt: skip
    done = subprocess.run(
        [sys.executable, "-m", "tests.privacy._token", db_url, str(tmp_path / "data")],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    lines = dict(line.split(" ", 1) for line in done.stdout.splitlines())
    assert lines == {
        "kind": "Pkcs11Kek",
        "opened": "True",
        "sealed": "True",
        "dev-key": "False",  # no development key was made
        "relabelled": "refused",
        "missing": "refused False",  # and the PIN is not in the message
    }
