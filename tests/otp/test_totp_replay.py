"""One authenticator code, many submitters at once: exactly one success, in threads and processes.

Each submitter confirms its own challenge (another document, say) with the
same code, so the challenge row locks do not serialise them: only the
enrolment's conditional ``last_step`` UPDATE does.
"""

from __future__ import annotations

import multiprocessing
import threading
from collections import Counter
from datetime import datetime

import pytest
from tests.otp.totp_helpers import active

from evservice import otp
from evservice._context import Context
from evservice.clock import ManualClock
from evservice.config import Settings

SUBMITTERS = 6


def _challenges(ctx: Context, doc: str, count: int) -> list[str]:
    return [
        otp.open_totp_challenge(
            ctx, subject=f"contract:HD2026-{n:06d}", document_sha256=doc, holder="PD0001"
        ).id
        for n in range(count)
    ]


def _outcome(ctx: Context, challenge: str, code: str, doc: str) -> str:
    try:
        otp.verify(challenge, code, document_sha256=doc, ctx=ctx)
    except Exception as exc:
        return type(exc).__name__
    return "ok"


def _wide(ctx: Context) -> Context:
    """Limits wide enough for many challenges of one holder within the hour."""
    settings = ctx.settings.model_copy(
        update={"otp_max_sends_per_recipient": 100, "otp_max_sends_per_subject": 100}
    )
    return Context(settings=settings, clock=ctx.clock)


def test_same_code_in_threads_gives_one_success(ctx: Context, doc: str) -> None:
    ctx = _wide(ctx)
    new, _ = active(ctx, "PD0001")
    ctx.clock.advance(30)  # type: ignore[attr-defined]
    code = otp.totp_code(new.secret, ctx.clock.now())
    challenges = _challenges(ctx, doc, SUBMITTERS)
    barrier = threading.Barrier(SUBMITTERS)
    results: list[str] = [""] * SUBMITTERS

    def run(i: int) -> None:
        barrier.wait()
        results[i] = _outcome(ctx, challenges[i], code, doc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(SUBMITTERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert Counter(results) == {"ok": 1, "CodeReused": SUBMITTERS - 1}
    assert all(otp.get_challenge(c, ctx).attempts == 0 for c in challenges)


def _child(
    settings: dict[str, object],
    now: datetime,
    challenge: str,
    code: str,
    doc: str,
    barrier: multiprocessing.synchronize.Barrier,
    out: multiprocessing.Queue[str],
) -> None:
    ctx = Context(settings=Settings(**settings), clock=ManualClock(now))  # type: ignore[arg-type]
    ctx.engine  # noqa: B018 - connect before the start line, not after it
    barrier.wait()
    out.put(_outcome(ctx, challenge, code, doc))


@pytest.mark.slow
def test_same_code_in_processes_gives_one_success(ctx: Context, doc: str) -> None:
    ctx = _wide(ctx)
    new, _ = active(ctx, "PD0001")
    ctx.clock.advance(30)  # type: ignore[attr-defined]
    now = ctx.clock.now()
    code = otp.totp_code(new.secret, now)
    challenges = _challenges(ctx, doc, SUBMITTERS)
    mp = multiprocessing.get_context("fork")
    barrier = mp.Barrier(SUBMITTERS)
    out: multiprocessing.Queue[str] = mp.Queue()
    values = {
        "data_dir": ctx.settings.data_dir,
        "database_url": ctx.settings.database_url,
        "_env_file": None,
    }
    procs = [
        mp.Process(target=_child, args=(values, now, c, code, doc, barrier, out))
        for c in challenges
    ]
    for p in procs:
        p.start()
    results = [out.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    assert Counter(results) == {"ok": 1, "CodeReused": SUBMITTERS - 1}
    confirmed = [otp.get_challenge(c, ctx).status for c in challenges]
    assert confirmed.count("confirmed") == 1
