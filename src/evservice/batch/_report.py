"""What a run reports: ``rejected.csv`` as rejections come, results merged, the summary.

:class:`RejectionLog` writes every rejected row with its reason (never a
spreadsheet formula); :class:`Collector` merges the workers' chunk results in
the calling process; :func:`build_summary` turns them into the
:class:`BatchSummary`.
"""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path
from typing import IO

from evservice._context import Context
from evservice.batch._anomalies import Anomaly
from evservice.batch._drafts import Params
from evservice.batch._input import InputStats, Rejection
from evservice.batch._options import BatchOptions, BatchSummary
from evservice.batch._results import ChunkResult, Tally
from evservice.errors import BatchError
from evservice.money import ZERO

__all__ = ["Collector", "RejectionLog", "build_summary"]

#: ``lines``: the physical lines the row took ("5", or "5-9" for a row that ran over
#: several lines and consumed them).
_REJECTED_COLUMNS = ("row_number", "customer_id", "field", "reason", "lines")


class RejectionLog:
    """``rejected.csv``, written as rejections come; keeps the first few for the summary."""

    def __init__(self, path: Path, listed: int) -> None:
        self.path = path
        self.count = 0
        self.pending = 0
        self.listed: list[Rejection] = []
        self._limit = listed
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._handle: IO[str] = path.open("w", encoding="utf-8", newline="")
        except OSError as exc:
            raise BatchError(f"cannot write the rejection report {path}: {exc.strerror}") from exc
        self._writer = csv.writer(self._handle)
        self._writer.writerow(_REJECTED_COLUMNS)

    def add(self, rejection: Rejection, *, pending: bool = False) -> None:
        """Write ``rejection``; ``pending``: a numbered row whose documents wait (counted
        apart, as its invoice is issued)."""
        customer = (rejection.customer_id or "")[:60]
        if customer[:1] in ("=", "+", "-", "@"):
            customer = "'" + customer  # never a formula when opened in a spreadsheet
        self._writer.writerow(
            (rejection.row_number, customer, rejection.field, rejection.reason, rejection.lines)
        )
        if pending:
            self.pending += 1
        else:
            self.count += 1
        if len(self.listed) < self._limit:
            self.listed.append(rejection)

    def close(self) -> None:
        self._handle.close()


class Collector:
    """Merges chunk results as they come back (in the calling process)."""

    def __init__(self, log: RejectionLog, total: int, options: BatchOptions) -> None:
        self.tally = Tally()
        self.anomaly_counts: Counter[str] = Counter()
        self.anomalies: list[Anomaly] = []
        self.done = 0
        self.late_rejections = 0
        self._log = log
        self._total = total
        self._options = options

    def __call__(self, result: ChunkResult) -> None:
        self.tally.merge(result.tally)
        for anomaly in result.anomalies:
            self.anomaly_counts[anomaly.kind] += 1
            if len(self.anomalies) < self._options.listed:
                self.anomalies.append(anomaly)
        for rejection in result.rejections:
            self._log.add(rejection)
        for rejection in result.pending:
            self._log.add(rejection, pending=True)
        self.late_rejections += len(result.rejections)
        self.done += result.done
        if self._options.progress is not None:
            self._options.progress("issue", self.done, self._total)
        if result.error is not None:
            raise BatchError(f"the batch stopped at {result.error}; run it again to resume")


def build_summary(
    params: Params,
    options: BatchOptions,
    path: Path,
    report_dir: Path,
    ctx: Context,
    stats: InputStats,
    rows: int,
    valid: int,
    completed: int,
    collect: Collector,
    log: RejectionLog,
    deliveries: Counter[str],
    checkpoint_size: int,
    workers: int,
    elapsed: float,
) -> BatchSummary:
    tally = collect.tally
    by_rate = {
        rate: {"before_tax": amount, "tax": tax, "payable": amount + tax}
        for rate, (amount, tax) in sorted(tally.by_rate.items())
    }
    by_tier = {
        tier: {"kwh": kwh, "amount": amount}
        for tier, (kwh, amount) in sorted(tally.by_tier.items())
    }
    before_tax = sum((v["before_tax"] for v in by_rate.values()), ZERO)
    tax = sum((v["tax"] for v in by_rate.values()), ZERO)
    return BatchSummary(
        period=str(params.period),
        input=path.resolve(),
        series=params.series,
        template=params.template,
        issue_date=params.issue_date,
        engine=options.engine,
        workers=workers,
        lines=stats.lines,
        blank_lines=stats.blank_lines,
        rows=rows,
        valid=valid - collect.late_rejections,
        issued=tally.issued,
        already_issued=tally.already_issued,
        rejected=log.count,
        documents_pending=log.pending,
        completed_pending=completed,
        meters=tally.meters,
        subscriptions=tally.subscriptions,
        by_vat_rate=by_rate,
        by_tier=by_tier,
        total_before_tax=before_tax,
        total_tax=tax,
        total_payable=before_tax + tax,
        credit_used=tally.credit_used,
        anomaly_counts=dict(collect.anomaly_counts),
        anomalies=tuple(collect.anomalies),
        rejections=tuple(log.listed),
        deliveries=dict(deliveries),
        first_number=tally.first_number,
        last_number=tally.last_number,
        checkpoint_size=checkpoint_size,
        data_dir=ctx.data_dir.resolve(),
        report_dir=report_dir,
        rejected_csv=log.path,
        summary_json=report_dir / "summary.json",
        elapsed_seconds=elapsed,
    )
