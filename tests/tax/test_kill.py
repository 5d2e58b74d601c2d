"""``evservice tax send`` killed (SIGKILL) mid-submission: nothing lost, nothing sent twice."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from evservice.tax import build_summary, list_messages, notify_correction

from .conftest import REPORT_PERIOD, SELLER_SETTINGS, Month
from .tvan import serve

EVSERVICE = Path(sys.executable).with_name("evservice")


def _env(month: Month, url: str) -> dict[str, str]:
    settings = month.ctx.settings
    env = {k: v for k, v in os.environ.items() if not k.startswith("EVSERVICE_")}
    env |= {f"EVSERVICE_{k.upper()}": v for k, v in SELLER_SETTINGS.items()}
    env |= {
        "EVSERVICE_DATA_DIR": str(settings.data_dir),
        "EVSERVICE_DATABASE_URL": str(settings.database_url),
        "EVSERVICE_TAX_GATEWAY": "tvan",
        "EVSERVICE_TAX_TVAN_URL": url,
        "EVSERVICE_TAX_TVAN_TIMEOUT": "60",
        "EVSERVICE_TAX_SEND_LEASE_SECONDS": "1",
    }
    return env


def test_a_killed_send_resumes_without_sending_an_id_twice(month: Month, tmp_path: Path) -> None:
    build_summary(REPORT_PERIOD, ctx=month.ctx, max_rows=20)
    notify_correction(month.replacement.row_id, ctx=month.ctx)
    ids = sorted(m.id for m in list_messages(month.ctx))
    assert len(ids) == 3
    with serve("stall", stall=60.0) as tvan:
        tvan.silent = True
        env = _env(month, tvan.url)
        command = [str(EVSERVICE), "tax", "send"]
        process = subprocess.Popen(
            command, env=env, cwd=tmp_path, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip
        deadline = time.monotonic() + 120
        try:
            while not tvan.posts:  # the T-VAN holds the first message, the sender waits
                assert process.poll() is None, "tax send ended before it could be killed"
                assert time.monotonic() < deadline, "no message reached the T-VAN"
                time.sleep(0.05)
        finally:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=60)
        assert len(tvan.posts) == 1
        assert {m.status for m in list_messages(month.ctx)} == {"sending"}

        tvan.mode, tvan.silent = "accept", False
        time.sleep(1.2)  # the killed run's leases end
        done = subprocess.run(
            command, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=300
        )
        assert done.returncode == 0, done.stderr
        assert "already held 1" in done.stdout
        again = subprocess.run(
            command, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=300
        )
        assert again.returncode == 0, again.stderr
    assert sorted(tvan.posts) == ids
    assert set(tvan.posts.values()) == {1}  # every id POSTed exactly once, across the kill
    assert {m.status for m in list_messages(month.ctx)} == {"accepted"}
    status = subprocess.run(
        [str(EVSERVICE), "tax", "status"], env=env, cwd=tmp_path, capture_output=True,
        text=True, timeout=120,
    )  # fmt: skip
    assert status.returncode == 0, status.stderr
    assert "accepted: 3" in status.stdout
    assert "đã chấp nhận" in status.stdout
