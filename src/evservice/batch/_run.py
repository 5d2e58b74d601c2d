"""The monthly batch: one period's invoices for every customer, from a CSV file.

:func:`run_batch` makes two streaming passes over the input (columns in
:mod:`evservice.batch._input`):

1. Validation. Every row is read, priced and turned into a draft; a row that
   fails (bad cell, no tariff for its dates, a name too long for the invoice,
   ...) goes to ``rejected.csv`` with its row number, field and reason. Nothing
   is issued before this pass is complete.
2. Issuing. The valid rows are read again and sent in chunks to workers: a
   local process pool (``workers`` processes, each loading fonts, keys and
   tariffs once) or a Dask cluster. Only a bounded number of chunks is in
   flight, so memory stays flat however long the file. A worker numbers a
   whole chunk in one transaction (:func:`record_invoices`: one counter lock,
   one insert, one audit append), renders each invoice's signed XML and PDF
   and stores them a hundred at a time (:func:`ensure_many_documents`: one
   flush to disk, one transaction); numbering stays gapless with any number
   of workers.

Exactly once, resumable: each (period, customer, meter or plan) has one
reference, and :func:`record_invoices` gives back the invoice already issued
under it, so a rerun after a kill issues only what is missing, with the next
consecutive numbers. A run starts by completing the documents a killed run left
unwritten (:func:`complete_pending`). What the batch remembers is written in the
transaction it belongs to: the consumption history and the carried credit in
the numbering transaction (the ``on_recorded`` hook, which a rerun never calls
again for an issued invoice), and each queued message with its ``batch_notice``
row, so a rerun neither spends a credit twice nor sends a notice twice.

A numbered invoice whose documents cannot be made: the numbering is gapless
and a number, once recorded, is used, so such an invoice is never deleted or
renumbered; it stays pending (row without documents) and the next run's
:func:`complete_pending` makes its documents. What a row's text could make
impossible to render is refused before numbering: the invoice model holds
only text its XML and PDF writers carry (:mod:`evservice._text`; a property
test renders drafts of text from the whole Unicode range), and the batch's
rows follow the same rule, so bad text is a rejected row, never a pending
invoice. Should an invoice's documents still fail (a :class:`DocumentError`
from the writers), that invoice stays pending, its row goes to
``rejected.csv`` (field ``(documents)``, counted in ``documents_pending``)
and the rest of the chunk and the batch go on; every run retries it. A
failure of the surroundings (the signer, the store, the disk) stops the batch
with a :class:`BatchError` naming the chunk's rows; their invoices stay
pending and a rerun, once the cause is fixed, completes them.

Credit: a subscription row's ``credit`` cell adds to the balance stored for the
customer's plan; the invoice spends what it can (:func:`apply_credit`) and the
rest is stored for later periods.

The run ends by publishing an audit checkpoint and, with ``deliver``, sending
what the outbox holds. The result is a :class:`BatchSummary`, also written as
``summary.json`` next to ``rejected.csv``.
"""

from __future__ import annotations

import dataclasses
import os
import sqlite3
import tempfile
import time
from collections import Counter
from collections.abc import Iterator, MutableSet
from pathlib import Path

from evservice import audit
from evservice._context import Context, resolve
from evservice._files import write_atomically
from evservice.batch._drafts import Params, draft_row, make_params, row_rejection
from evservice.batch._executors import open_executor
from evservice.batch._input import (
    BatchPeriod,
    InputStats,
    Rejection,
    Row,
    parse_period,
    read_batch_csv,
)
from evservice.batch._options import BatchOptions, BatchSummary, ProgressCallback
from evservice.batch._report import Collector, RejectionLog, build_summary
from evservice.delivery import Channel, channel_from_settings, dispatch
from evservice.errors import ValidationError
from evservice.invoices import TariffBook, complete_pending, load_tariffs

__all__ = ["NO_PAYEE_WARNING", "run_batch"]

#: Said in the summary of a batch run without a payee: its bills have no VietQR box.
NO_PAYEE_WARNING = (
    "no payment QR code on these bills: the payee is not configured "
    "(set EVSERVICE_PAYEE_BANK_BIN and EVSERVICE_PAYEE_ACCOUNT)"
)


class _SeenKeys(MutableSet[tuple[str, str]]):
    """The (customer, meter or plan) keys of a file, in a temporary SQLite file.

    A set in memory costs about 200 bytes a row (gigabytes for a national
    file); this keeps the batch's memory flat for any number of rows.
    """

    def __init__(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self._dir = tempfile.TemporaryDirectory(prefix=".keys-", dir=directory)
        self._db = sqlite3.connect(Path(self._dir.name) / "keys.db", isolation_level=None)
        for pragma in ("journal_mode = OFF", "synchronous = OFF", "cache_size = -8192"):
            self._db.execute(f"PRAGMA {pragma}")
        self._db.execute("CREATE TABLE k (c TEXT, i TEXT, PRIMARY KEY (c, i)) WITHOUT ROWID")
        self._db.execute("BEGIN")
        self._count = 0

    def __contains__(self, key: object) -> bool:
        if not isinstance(key, tuple) or len(key) != 2:
            return False
        found = self._db.execute("SELECT 1 FROM k WHERE c = ? AND i = ?", key).fetchone()
        return found is not None

    def __iter__(self) -> Iterator[tuple[str, str]]:
        yield from self._db.execute("SELECT c, i FROM k")

    def __len__(self) -> int:
        return self._count

    def add(self, value: tuple[str, str]) -> None:
        self._count += self._db.execute("INSERT OR IGNORE INTO k VALUES (?, ?)", value).rowcount

    def discard(self, value: tuple[str, str]) -> None:
        self._count -= self._db.execute("DELETE FROM k WHERE c = ? AND i = ?", value).rowcount

    def close(self) -> None:
        self._db.close()
        self._dir.cleanup()


def _read(
    path: Path, params: Params, scratch: Path, stats: InputStats | None = None
) -> Iterator[Row | Rejection]:
    """The rows of the input, duplicates found with keys kept on disk in ``scratch``."""
    seen = _SeenKeys(scratch)
    try:
        yield from read_batch_csv(path, params.period, seen=seen, stats=stats)
    finally:
        seen.close()


def _validate(
    path: Path,
    params: Params,
    tariffs: TariffBook,
    log: RejectionLog,
    progress: ProgressCallback | None,
    stats: InputStats,
) -> tuple[int, int, set[int]]:
    """Pass 1: (rows, valid rows, numbers of rows rejected after parsing)."""
    rows = valid = 0
    rejected: set[int] = set()
    for item in _read(path, params, log.path.parent, stats):
        rows += 1
        if isinstance(item, Rejection):
            log.add(item)
        else:
            try:
                draft_row(item, params, tariffs)
            except ValidationError as exc:
                log.add(row_rejection(item, exc))
                rejected.add(item.row_number)
            else:
                valid += 1
        if progress is not None and rows % 500 == 0:
            progress("validate", rows, None)
    if progress is not None:
        progress("validate", rows, rows)
    return rows, valid, rejected


def _chunk_size(largest: int, rows: int, workers: int) -> int:
    """At most ``largest`` rows, fewer for a small file: about ten chunks per worker.

    Small chunks keep every worker busy to the end and the progress bar moving;
    a chunk costs a few queries, so large files use the largest.
    """
    return max(1, min(largest, -(-rows // (10 * max(workers, 1)))))


def _chunks(
    path: Path, params: Params, skip: set[int], size: int, scratch: Path
) -> Iterator[tuple[Row, ...]]:
    """Pass 2: the valid rows again, ``size`` at a time."""
    chunk: list[Row] = []
    for item in _read(path, params, scratch):
        if isinstance(item, Rejection) or item.row_number in skip:
            continue
        chunk.append(item)
        if len(chunk) >= size:
            yield tuple(chunk)
            chunk = []
    if chunk:
        yield tuple(chunk)


def _dispatch_all(ctx: Context, channel: Channel | None) -> Counter[str]:
    """Send what the outbox holds until nothing is due (retries wait for their time)."""
    sent: Counter[str] = Counter()
    own = channel is None
    channel = channel or channel_from_settings(ctx.settings, clock=ctx.clock)
    try:
        while True:
            report = dispatch(ctx, channel, limit=500)
            sent.update(sent=report.sent, retrying=report.retrying, failed=report.failed)
            if report.claimed == 0:
                break
    finally:
        if own:
            channel.close()
    return sent


def run_batch(
    input_path: Path | str,
    period: BatchPeriod | str,
    *,
    ctx: Context | None = None,
    options: BatchOptions | None = None,
) -> BatchSummary:
    """Issue one period's invoices from the CSV at ``input_path``; see the module docstring.

    Bad rows do not stop the batch: they are counted and written to
    ``rejected.csv`` (``summary.exit_code`` is 1). Errors that stop it come from
    our tree (:class:`BatchError` for a worker's failure, naming the row); run
    it again to resume.
    """
    started = time.perf_counter()
    ctx = resolve(ctx)
    options = options or BatchOptions()
    if not isinstance(period, BatchPeriod):
        period = parse_period(period)
    path = Path(input_path)
    if not path.is_file():
        raise ValidationError("input", f"{path} is not a file")
    if not 1 <= options.chunk_size <= 10_000:
        raise ValidationError("chunk_size", "must be between 1 and 10000")
    workers = (os.cpu_count() or 1) if options.workers is None else options.workers
    if workers < 0:
        raise ValidationError("workers", "must not be negative")
    if options.engine not in ("local", "dask"):
        raise ValidationError("engine", "must be local or dask")
    if options.engine == "dask" and not options.scheduler:
        raise ValidationError("scheduler", "the dask engine needs the scheduler's address")
    params = make_params(ctx, period, options)
    report_dir = (options.report_dir or ctx.data_dir / "reports" / str(period)).resolve()

    from evservice.signing import load_signer

    _ = ctx.engine  # migrated once, here, before any worker starts
    load_signer(ctx.settings)  # a development key is made here, not by racing workers
    # An invoice that still cannot be rendered stays pending; its row, if in this file,
    # is reported by the worker that finds it issued, and nothing else waits for it.
    completed = len(complete_pending(ctx=ctx, on_error=lambda _invoice, _exc: None))
    tariffs = load_tariffs(ctx.settings.tariff_dir)
    log = RejectionLog(report_dir / "rejected.csv", options.listed)
    try:
        # The workers queue their audit events; this sequencer integrates them while
        # they run, so the log keeps up and the final checkpoint has little to do.
        with audit.Sequencer(ctx), open_executor(ctx, params, options, workers) as executor:
            stats = InputStats()
            rows, valid, skip = _validate(path, params, tariffs, log, options.progress, stats)
            collect = Collector(log, valid, options)
            if options.progress is not None:
                options.progress("issue", 0, valid)
            size = _chunk_size(options.chunk_size, valid, workers)
            executor.run(_chunks(path, params, skip, size, report_dir), collect)
            if executor.workers is not None:
                workers = executor.workers
    finally:
        log.close()
    deliveries = Counter(collect.tally.deliveries)
    if options.deliver or options.notify_anomalies:
        deliveries.update(_dispatch_all(ctx, options.channel))
    checkpoint = audit.publish_checkpoint(ctx)
    summary = build_summary(
        params, options, path, report_dir, ctx, stats, rows, valid, completed, collect, log,
        deliveries, checkpoint.size, workers, time.perf_counter() - started,
    )  # fmt: skip
    if not (ctx.settings.payee_bank_bin and ctx.settings.payee_account):
        summary = dataclasses.replace(summary, warnings=(NO_PAYEE_WARNING,))
    write_atomically(summary.summary_json, summary.to_json().encode())
    return summary
