"""Concurrent writers in separate processes (spawn) keep the log gapless and verifiable."""

from __future__ import annotations

import multiprocessing
import site
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from multiprocessing.managers import SyncManager
from pathlib import Path

import pytest
import sqlalchemy as sa

from evservice._context import Context
from evservice.audit import (
    log_size,
    publish_checkpoint,
    sequence_pending,
    verify_log,
    wait_sequenced,
)

from ._workers import append_worker, warm_up

WORKERS = 8
PER_WORKER = 12
#: The repository root, so that spawned workers can import ``tests.audit._workers``.
ROOT = str(Path(__file__).resolve().parents[2])


@pytest.fixture(scope="module")
def pool() -> Iterator[tuple[ProcessPoolExecutor, SyncManager]]:
    """Eight spawned worker processes (and a manager for barriers), shared by both back ends."""
    spawn = multiprocessing.get_context("spawn")
    with (
        spawn.Manager() as manager,
        ProcessPoolExecutor(
            WORKERS, mp_context=spawn, initializer=site.addsitedir, initargs=(ROOT,)
        ) as executor,
    ):
        barrier = manager.Barrier(WORKERS)
        pids = {
            f.result(timeout=240)
            for f in [executor.submit(_warm_and_wait, barrier) for _ in range(WORKERS)]
        }
        assert len(pids) == WORKERS  # eight distinct processes
        yield executor, manager


def _warm_and_wait(barrier: object) -> int:
    pid = warm_up()
    barrier.wait(timeout=240)  # type: ignore[attr-defined]  # all eight are alive at once
    return pid


def test_eight_processes_append_at_once(
    ctx: Context, pool: tuple[ProcessPoolExecutor, SyncManager]
) -> None:
    """8 processes append at the same moment; one also publishes checkpoints in between."""
    executor, manager = pool
    barrier = manager.Barrier(WORKERS)
    futures = [
        executor.submit(
            append_worker,
            ctx.settings.db_url,
            str(ctx.settings.data_dir),
            w,
            PER_WORKER,
            barrier,
            w == 0,
        )
        for w in range(WORKERS)
    ]
    queued = [f.result(timeout=240) for f in futures]
    total = WORKERS * PER_WORKER
    sequence_pending(ctx)
    results = [[wait_sequenced(i, ctx).index for i in ids] for ids in queued]
    given = sorted(i for r in results for i in r)
    assert given == list(range(total))  # every index once, no gap, no duplicate
    for indexes in results:
        assert indexes == sorted(indexes)  # each writer's own events stay in its order
    with ctx.engine.connect() as conn:
        stored = conn.execute(sa.text("select idx from audit_event order by idx")).scalars().all()
    assert stored == list(range(total))
    assert log_size(ctx) == total
    publish_checkpoint(ctx)
    result = verify_log(ctx)
    assert result.ok, result.summary()
    assert result.rows == total
    assert result.checkpoints_checked >= 2
