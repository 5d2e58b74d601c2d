"""Executors: where the chunks of the issuing pass run.

One small protocol, :class:`Executor` (``run(chunks, collect)`` and the
``workers`` it really used), with three implementations chosen by one factory,
:func:`open_executor`: :class:`InlineExecutor` (the calling process,
``workers=0``), :class:`PoolExecutor` (a local process pool) and
:class:`DaskExecutor` (a Dask cluster; the same code runs on a real cluster).
A pool is started before the validation pass so that its workers warm up
(fonts, key, tariffs, store) meanwhile; only a bounded number of chunks is in
flight, so memory stays flat however long the file.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import multiprocessing.context
import os
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from datetime import datetime
from typing import Any, Protocol

from evservice._context import Context
from evservice.batch._drafts import Params
from evservice.batch._input import Row
from evservice.batch._options import BatchOptions
from evservice.batch._results import ChunkResult
from evservice.batch._worker import Job, issue_chunk, process, warm_worker
from evservice.clock import SystemClock
from evservice.errors import BatchError, ConfigurationError

__all__ = ["DaskExecutor", "Executor", "InlineExecutor", "PoolExecutor", "open_executor"]

Chunks = Iterable[tuple[Row, ...]]
Collect = Callable[[ChunkResult], None]


class Executor(Protocol):
    """Runs every chunk and hands each result to ``collect`` (in the calling process)."""

    #: Worker processes or threads really used; None when it is what the caller asked.
    workers: int | None

    def run(self, chunks: Chunks, collect: Collect) -> None: ...


def _clock_at(ctx: Context) -> datetime | None:
    """Workers use the real time, unless the caller's clock is not the real one (tests)."""
    return None if isinstance(ctx.clock, SystemClock) else ctx.clock.now()


class InlineExecutor:
    """Every chunk in the calling process, one after the other (``workers=0``)."""

    workers: int | None = 0

    def __init__(self, ctx: Context, params: Params) -> None:
        self._ctx, self._params = ctx, params

    def run(self, chunks: Chunks, collect: Collect) -> None:
        for rows in chunks:
            collect(process(self._ctx, self._params, rows))


def _pool_context() -> multiprocessing.context.BaseContext:
    """Workers forked from a fork server that imported the batch once (else spawned).

    Never forked from this process, which may hold open store connections and
    threads. The fork server pays the imports (a few seconds) once per run
    instead of once per worker.
    """
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["__main__", issue_chunk.__module__])
    return context


def _started() -> None:
    """A no-op task: submitting it starts a worker (which warms up) while rows are checked."""


class PoolExecutor:
    """Chunks on a local process pool, ``2 x workers`` in flight."""

    workers: int | None = None

    def __init__(self, ctx: Context, params: Params, pool: ProcessPoolExecutor, size: int) -> None:
        self._ctx, self._params, self._pool, self._size = ctx, params, pool, size

    def run(self, chunks: Chunks, collect: Collect) -> None:
        pending: set[Future[ChunkResult]] = set()
        for rows in chunks:
            if len(pending) >= 2 * self._size:
                finished, pending = wait(pending, return_when=FIRST_COMPLETED)
                for future in finished:
                    collect(future.result())
            job = Job(self._ctx.settings, _clock_at(self._ctx), self._params, rows)
            pending.add(self._pool.submit(issue_chunk, job))
        while pending:
            finished, pending = wait(pending, return_when=FIRST_COMPLETED)
            for future in finished:
                collect(future.result())


class DaskExecutor:
    """Chunks on a Dask cluster, twice as many in flight as it has worker threads."""

    def __init__(self, ctx: Context, params: Params, client: Any) -> None:
        self._ctx, self._params, self._client = ctx, params, client
        self.workers: int | None = sum(client.nthreads().values())

    def run(self, chunks: Chunks, collect: Collect) -> None:
        from distributed import as_completed

        limit = max(2, 2 * (self.workers or 1))
        running = as_completed()  # type: ignore[no-untyped-call]
        in_flight = 0
        for rows in chunks:
            if in_flight >= limit:
                collect(next(running).result())
                in_flight -= 1
            job = Job(self._ctx.settings, _clock_at(self._ctx), self._params, rows)
            running.add(self._client.submit(issue_chunk, job, pure=False))  # type: ignore[no-untyped-call]
            in_flight += 1
        for future in running:
            collect(future.result())


@contextlib.contextmanager
def _dask_client(scheduler: str) -> Iterator[Any]:
    try:
        from distributed import Client
    except ImportError as exc:
        raise ConfigurationError("the Dask engine needs the 'dask' extra: evservice[dask]") from exc
    try:
        client = Client(scheduler, timeout=30)  # type: ignore[no-untyped-call]
    except (OSError, TimeoutError) as exc:
        raise BatchError(f"cannot reach the Dask scheduler at {scheduler}: {exc}") from exc
    with client:
        yield client


@contextlib.contextmanager
def open_executor(
    ctx: Context, params: Params, options: BatchOptions, workers: int
) -> Iterator[Executor]:
    """The executor for the issuing pass: Dask, inline (``workers == 0``) or a local pool."""
    if options.engine == "dask":
        with _dask_client(options.scheduler or "") as client:
            yield DaskExecutor(ctx, params, client)
        return
    if workers == 0:
        yield InlineExecutor(ctx, params)
        return
    pool = ProcessPoolExecutor(
        max_workers=workers,
        mp_context=_pool_context(),
        initializer=warm_worker,
        initargs=(ctx.settings, os.getpid()),  # workers stop when this process dies
    )
    try:
        for _ in range(workers):
            pool.submit(_started)
        yield PoolExecutor(ctx, params, pool, workers)
    except BrokenProcessPool as exc:
        raise BatchError(f"a worker process died ({exc}); run the batch again to resume") from exc
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
