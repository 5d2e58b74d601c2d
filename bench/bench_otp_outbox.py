"""What OTP challenges and the durable outbox cost per operation in the store.

Figures per operation, on SQLite (default) or the store given by
``--database-url`` (e.g. PostgreSQL):

* ``create_challenge``: rate-limit counts, one challenge row and one send row;
* ``verify`` with a wrong code on a live challenge: row lock, HMAC, counted try;
* ``verify`` on a locked challenge: answered from the per-process memory of
  dead challenges, without the store (what a brute-force script meets after
  its fifth guess);
* outbox ``enqueue`` (one message per transaction, as an issuing transaction
  would add it) and ``dispatch`` through an in-memory channel (claim, send,
  record the result: two write transactions per batch plus one per message).

Baseline, measured in the same run: an empty write transaction through
``evservice.store.transaction`` (``SELECT 1``), the floor every store
operation pays. Ratios are against it.

Run:  .venv/bin/python bench/bench_otp_outbox.py [--count 300] [--database-url URL]
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import logging
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa

from evservice._context import Context
from evservice.clock import ManualClock
from evservice.config import Settings
from evservice.delivery import MemoryChannel, Message, dispatch, enqueue
from evservice.errors import ChallengeLocked, CodeMismatch
from evservice.otp import create_challenge, verify
from evservice.store import transaction

COMMAND = ".venv/bin/python bench/bench_otp_outbox.py"


def _per_op(count: int, run: Callable[[int], object]) -> float:
    start = time.perf_counter()
    for i in range(count):
        run(i)
    return (time.perf_counter() - start) / count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=300)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    logging.disable(logging.WARNING)  # the refusals log one line each; not what we measure
    count: int = args.count

    folder = Path(tempfile.mkdtemp(prefix="bench-otp-"))
    url = args.database_url or f"sqlite:///{folder / 'store.db'}"
    settings = Settings(  # type: ignore[call-arg]
        data_dir=folder,
        database_url=url,
        otp_max_sends_per_recipient=10**9,
        otp_max_sends_per_subject=10**9,
        _env_file=None,
    )
    ctx = Context(settings=settings, clock=ManualClock(datetime(2026, 11, 1, tzinfo=UTC)))
    engine = ctx.engine
    doc = hashlib.sha256(b"contract").hexdigest()
    tag = folder.name[-6:]

    def floor(_: int) -> None:
        with transaction(engine) as session:
            session.exec(sa.select(sa.literal(1)))  # type: ignore[call-overload]

    _per_op(20, floor)  # warm the pool
    base = _per_op(count, floor)

    made: list[tuple[str, str]] = []

    def create(i: int) -> None:
        challenge, code = create_challenge(
            ctx,
            subject=f"HD-{tag}-{i}",
            document_sha256=doc,
            channel="sms",
            destination=f"09120{i:05d}",
            purpose="contract.sign",
        )
        made.append((challenge.id, code))

    t_create = _per_op(count, create)

    def wrong(i: int) -> None:
        challenge_id, code = made[i]
        with contextlib.suppress(CodeMismatch):
            verify(challenge_id, f"{(int(code) + 1) % 10**6:06d}", document_sha256=doc, ctx=ctx)

    t_wrong = _per_op(count, wrong)

    locked_id, locked_code = made[0]
    for _ in range(4):
        wrong(0)
    guess = f"{(int(locked_code) + 1) % 10**6:06d}"

    def dead(_: int) -> None:
        with contextlib.suppress(ChallengeLocked):
            verify(locked_id, guess, document_sha256=doc, ctx=ctx)

    t_dead = _per_op(count, dead)

    def put(i: int) -> None:
        with transaction(engine) as session:
            enqueue(session, Message(to=f"09130{i:05d}", kind="sms", text=f"Hoa don {i}"), ctx=ctx)

    t_enqueue = _per_op(count, put)
    channel = MemoryChannel()
    start = time.perf_counter()
    sent = 0
    while (report := dispatch(ctx, channel, limit=100)).claimed:
        sent += report.sent
    t_dispatch = (time.perf_counter() - start) / max(sent, 1)
    assert sent == count, (sent, count)

    backend = engine.dialect.name
    print(f"store: {backend}, {count} operations each")
    print(f"{'operation':<44}{'ms/op':>9}{'x floor':>9}")
    rows = [
        ("baseline: empty write transaction", base),
        ("create_challenge", t_create),
        ("verify, wrong code on a live challenge", t_wrong),
        ("verify on a locked challenge (no store)", t_dead),
        ("outbox enqueue (own transaction)", t_enqueue),
        ("outbox dispatch per message (memory channel)", t_dispatch),
    ]
    for name, seconds in rows:
        print(f"{name:<44}{seconds * 1000:>9.3f}{seconds / base:>9.2f}")
    print(
        f"command: {COMMAND} --count {count}"
        + (f" --database-url {url}" if args.database_url else "")
    )


if __name__ == "__main__":
    main()
