"""The queue and the sequencer: batches, the integration lock, waiting, and real SIGKILLs.

Each event is integrated exactly once, in one gapless run of indexes, whatever
moment a writer or a sequencer is killed at (SIGKILL, at random times, many
rounds, on SQLite and PostgreSQL). On SQLite ``record`` appends in place once
the log has begun; the queue is still exercised there through ``queue_many``.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from evservice._context import Context
from evservice.audit import (
    UNSEQUENCED,
    AuditRecord,
    NewEvent,
    Sequencer,
    SequencerOptions,
    latest_checkpoint,
    log_size,
    publish_checkpoint,
    queue_length,
    record_many,
    root_at,
    run_sequencer,
    sequence_pending,
    verify_log,
    wait_sequenced,
)
from evservice.audit._log import EVENTS, QUEUE, queue_many
from evservice.audit._sequencer import integrate_batch, sign_if_due
from evservice.errors import AuditPendingError, NotFoundError, ValidationError
from evservice.store import transaction

ROOT = Path(__file__).resolve().parents[2]


def _queue(ctx: Context, n: int, start: int = 0) -> list[str]:
    ids = []
    for i in range(start, start + n):
        event = NewEvent("invoice.issued", f"inv-{i}", "system", ctx.clock.now(), {"n": i})
        with transaction(ctx.engine) as session:
            (rec,) = queue_many(session, [event])
        assert rec.index == UNSEQUENCED
        ids.append(rec.id)
    return ids


def test_record_queues_and_the_sequencer_integrates_in_batches(ctx: Context) -> None:
    ids = _queue(ctx, 12)
    assert log_size(ctx) == 0
    assert queue_length(ctx) == 12
    options = SequencerOptions(batch_size=5)
    assert integrate_batch(ctx, options) == 5
    assert integrate_batch(ctx, options) == 5
    assert integrate_batch(ctx, options) == 2
    assert integrate_batch(ctx, options) == 0
    assert queue_length(ctx) == 0
    assert [wait_sequenced(i, ctx).index for i in ids] == list(range(12))
    assert latest_checkpoint(ctx) is not None  # signed after the first batch
    assert verify_log(ctx).ok


def test_a_rolled_back_transaction_queues_nothing(ctx: Context) -> None:
    class Boom(Exception):
        pass

    def queue_then_fail() -> None:
        with transaction(ctx.engine) as session:
            record_many(session, [NewEvent("otp.sent", "c-1", "system", ctx.clock.now(), {})])
            raise Boom

    with pytest.raises(Boom):
        queue_then_fail()
    assert queue_length(ctx) == 0


def _record(ctx: Context, n: int, start: int = 0, per_tx: int = 1) -> list[AuditRecord]:
    out: list[AuditRecord] = []
    for first in range(start, start + n, per_tx):
        events = [
            NewEvent("invoice.issued", f"inv-{i}", "system", ctx.clock.now(), {"n": i})
            for i in range(first, min(start + n, first + per_tx))
        ]
        with transaction(ctx.engine) as session:
            out.extend(record_many(session, events))
    return out


def test_record_appends_in_place_on_sqlite_and_queues_on_postgresql(ctx: Context) -> None:
    """SQLite: the first events of a log queue (their sequencer signs the first checkpoint),
    then each call appends in place with its indexes; PostgreSQL always queues."""
    first = _record(ctx, 2)
    assert [r.index for r in first] == [UNSEQUENCED] * 2
    sequence_pending(ctx)
    assert latest_checkpoint(ctx) is not None
    later = _record(ctx, 7, start=2, per_tx=3)
    if ctx.engine.dialect.name == "sqlite":
        assert [r.index for r in later] == list(range(2, 9))
        assert queue_length(ctx) == 0
        assert log_size(ctx) == 9
    else:
        assert [r.index for r in later] == [UNSEQUENCED] * 7
        assert queue_length(ctx) == 7
        sequence_pending(ctx)
    for rec in first + later:
        stored = wait_sequenced(rec.id, ctx)
        assert stored.check()
        assert stored.leaf_hash == rec.leaf_hash
    assert [wait_sequenced(r.id, ctx).index for r in first + later] == list(range(9))
    result = verify_log(ctx)
    assert result.ok, result.summary()


def test_sqlite_records_behind_a_waiting_queue_in_commit_order(ctx: Context) -> None:
    """While events wait in the queue, record() queues too (SQLite), so the log keeps the
    order of the commits; a rolled-back in-place append leaves the log as it was."""
    _record(ctx, 1)
    sequence_pending(ctx)
    ids = _queue(ctx, 3, start=1)
    later = _record(ctx, 2, start=4)
    assert [r.index for r in later] == [UNSEQUENCED] * 2
    sequence_pending(ctx)
    assert [wait_sequenced(i, ctx).index for i in [*ids, *(r.id for r in later)]] == [1, 2, 3, 4, 5]
    root = root_at(ctx=ctx)

    class Boom(Exception):
        pass

    def append_then_fail() -> None:
        with transaction(ctx.engine) as session:
            record_many(session, [NewEvent("otp.sent", "c-1", "system", ctx.clock.now(), {})])
            raise Boom

    with pytest.raises(Boom):
        append_then_fail()
    assert log_size(ctx) == 6
    assert root_at(ctx=ctx) == root
    assert queue_length(ctx) == 0
    assert verify_log(ctx).ok


def test_an_idle_sequencer_signs_a_checkpoint_for_events_appended_in_place(ctx: Context) -> None:
    _record(ctx, 2)
    sequence_pending(ctx)  # the first batch signs the first checkpoint
    first = latest_checkpoint(ctx)
    assert first is not None
    assert first.size == 2
    _record(ctx, 3, start=2)  # SQLite: in place, no batch; PostgreSQL: queued
    sequence_pending(ctx, options=SequencerOptions(checkpoint_every=None))
    options = SequencerOptions(checkpoint_every=timedelta(minutes=1))
    assert not sign_if_due(ctx, options)  # the newest checkpoint is recent
    ctx.clock.advance(61)  # type: ignore[attr-defined]
    assert sign_if_due(ctx, options)
    newest = latest_checkpoint(ctx)
    assert newest is not None
    assert newest.size == 5
    ctx.clock.advance(61)  # type: ignore[attr-defined]
    assert not sign_if_due(ctx, options)  # the log did not grow since
    assert verify_log(ctx).ok


def test_wait_sequenced_integrates_or_waits_bounded(ctx: Context) -> None:
    (event_id,) = _queue(ctx, 1)
    record_ = wait_sequenced(event_id, ctx)
    assert record_.index == 0
    assert record_.check()
    with pytest.raises(NotFoundError):
        wait_sequenced("00000000-0000-4000-8000-000000000000", ctx)
    with pytest.raises(ValidationError):
        wait_sequenced("", ctx)


def test_checkpoints_cover_only_sequenced_events(ctx: Context) -> None:
    _queue(ctx, 3)
    checkpoint = publish_checkpoint(ctx)  # integrates what was committed before it
    assert checkpoint.size == 3
    _queue(ctx, 2, start=3)
    assert latest_checkpoint(ctx) == checkpoint
    assert queue_length(ctx) == 2


def test_only_one_sequencer_integrates_at_a_time(ctx: Context) -> None:
    """While another transaction holds the integration lock, no second sequencer integrates.

    PostgreSQL: the advisory lock is taken, so a sequencer gets None at once and a
    bounded wait runs out. SQLite: the write lock is taken, so a sequencer waits
    for it and integrates once it is released.
    """
    _queue(ctx, 2)
    if ctx.engine.dialect.name == "postgresql":
        with ctx.engine.connect() as holder:
            holder.execute(
                sa.text("SELECT pg_advisory_xact_lock(hashtext(current_schema() || :n))"),
                {"n": ".evservice.audit.sequencer"},
            )
            assert integrate_batch(ctx) is None
            with pytest.raises(AuditPendingError):
                sequence_pending(ctx, timeout=timedelta(milliseconds=100))
            holder.rollback()
        assert integrate_batch(ctx) == 2
        return
    got: list[int | None] = []
    with transaction(ctx.engine) as holder:  # BEGIN IMMEDIATE: the write lock
        holder.execute(sa.text("SELECT 1"))
        worker = threading.Thread(target=lambda: got.append(integrate_batch(ctx)))
        worker.start()
        time.sleep(0.3)
        assert got == []  # it waits for the lock
    worker.join(timeout=30)
    assert got == [2]


def test_a_background_sequencer_keeps_up_and_drains_on_exit(ctx: Context) -> None:
    options = SequencerOptions(batch_size=4, interval=timedelta(milliseconds=2))
    with Sequencer(ctx, options) as sequencer:
        ids = _queue(ctx, 10)
        deadline = time.monotonic() + 10
        while queue_length(ctx) and time.monotonic() < deadline:
            time.sleep(0.01)
        assert sequencer.thread.is_alive()
    assert queue_length(ctx) == 0
    assert sorted(wait_sequenced(i, ctx).index for i in ids) == list(range(10))
    stop = threading.Event()
    stop.set()
    assert run_sequencer(ctx, options, stop=stop) == 0


def test_options_are_validated() -> None:
    with pytest.raises(ValidationError, match="batch_size"):
        SequencerOptions(batch_size=0)
    with pytest.raises(ValidationError, match="interval"):
        SequencerOptions(interval=timedelta(0))


# -- SIGKILL at random moments -------------------------------------------------------


def _spawn(args: list[str], ctx: Context) -> subprocess.Popen[str]:
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.audit._killable", *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        start_new_session=True,
    )
    assert process.stdout is not None
    assert process.stdout.readline().strip() == "ready"
    return process


def _kill(process: subprocess.Popen[str]) -> list[int]:
    os.killpg(process.pid, signal.SIGKILL)
    out, _ = process.communicate(timeout=30)
    return [int(line) for line in out.split() if line.isdigit()]


#: The queuer's ``n`` count from here, the writer's from 0.
_QUEUER_BASE = 1_000_000


def test_sigkill_at_random_points_integrates_each_event_exactly_once(ctx: Context) -> None:
    """Two writers and a sequencer killed (SIGKILL) at random moments, six rounds; a rerun.

    One writer records with ``record`` (on SQLite: in place, or behind the queue
    while events wait), the other through the queue, so on SQLite both paths and
    their hand-over are killed mid-transaction.
    """
    rng = random.Random(15)
    url, data = ctx.settings.db_url, str(ctx.settings.data_dir)
    committed: list[int] = []
    starts = {"writer": 0, "queuer": _QUEUER_BASE}
    for _ in range(6):
        writers = {role: _spawn([role, url, data, str(n)], ctx) for role, n in starts.items()}
        sequencer = _spawn(["sequencer", url, data], ctx)
        time.sleep(rng.uniform(0.1, 0.6))
        order = [sequencer, *writers.values()]
        rng.shuffle(order)
        for process in order:
            time.sleep(rng.uniform(0.0, 0.05))
            printed = _kill(process)
            if process is not sequencer:
                committed.extend(printed)
        # A writer may have committed one more than it printed before the kill.
        with ctx.engine.connect() as conn:
            in_log = {json.loads(d)["n"] for d in conn.execute(sa.select(EVENTS.c.data)).scalars()}
            queued = {json.loads(d)["n"] for d in conn.execute(sa.select(QUEUE.c.data)).scalars()}
        assert not in_log & queued  # never both in the queue and in the log
        for role, base in (("writer", 0), ("queuer", _QUEUER_BASE)):
            mine = {n for n in in_log | queued if (n >= _QUEUER_BASE) == (base > 0)}
            starts[role] = max(mine | {starts[role] - 1}) + 1
    sequence_pending(ctx)  # the rerun
    assert queue_length(ctx) == 0
    with ctx.engine.connect() as conn:
        rows = conn.execute(sa.select(EVENTS.c.idx, EVENTS.c.data).order_by(EVENTS.c.idx)).all()
    numbers = sorted(json.loads(d)["n"] for _, d in rows)
    assert [int(i) for i, _ in rows] == list(range(len(rows)))  # gapless indexes
    # Every committed event once, none twice: each writer's numbers are one unbroken run.
    assert numbers == [
        *range(starts["writer"]),
        *range(_QUEUER_BASE, starts["queuer"]),
    ]
    assert set(committed) <= set(numbers)
    assert starts["writer"] > 20  # the rounds did real work before the kills
    assert starts["queuer"] - _QUEUER_BASE > 20
    result = verify_log(ctx)
    assert result.ok, result.summary()
