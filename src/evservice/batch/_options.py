"""How a batch is asked to run (:class:`BatchOptions`) and what it did (:class:`BatchSummary`).

Both are frozen dataclasses: the options travel to no worker (the run turns
them into :class:`~evservice.batch._drafts.Params`), and the summary is what
``run_batch`` returns and writes as ``summary.json``.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

from evservice.batch._anomalies import Anomaly
from evservice.batch._input import Rejection
from evservice.delivery import Channel
from evservice.invoices import Seller

__all__ = ["BatchOptions", "BatchSummary", "ProgressCallback"]

#: ``progress(phase, done, total)``: phase ``"validate"`` (rows read, total unknown)
#: then ``"issue"`` (rows issued or found issued, of the valid rows).
ProgressCallback = Callable[[str, int, int | None], None]


@dataclass(frozen=True)
class BatchOptions:
    """How to run a batch. Every field has a working default.

    ``series`` defaults to ``settings.invoice_series``, else ``C<yy>TEV`` of the
    issue year; ``issue_date`` to today in Vietnam (by the context's clock);
    ``seller`` to the ``EVSERVICE_SELLER_*`` settings. ``workers`` is the size of
    the local process pool (default: the CPU count; 0 issues in the calling
    process). A script that starts workers must guard its entry point with
    ``if __name__ == "__main__":``, as the workers import the main module.
    ``engine="dask"`` sends the chunks to the Dask scheduler at ``scheduler``
    instead. ``chunk_size`` is the most rows a worker gets at once (small files
    use fewer: about ten chunks per worker). ``deliver`` queues each invoice's
    e-mail (PDF and XML attached) and SMS in the outbox and sends them at the
    end with ``channel`` (default: from the settings); ``notify_anomalies``
    queues a notice to customers whose invoice is flagged. ``report_dir``
    defaults to ``data_dir/reports/<period>``. ``progress`` is called as rows
    are checked and issued; ``listed`` caps the anomalies and rejections the
    summary lists (its counts are complete). ``open_period`` allows billing a month
    that has not ended by the issue date (refused by default: a bill would charge
    for days still to come).
    """

    series: str | None = None
    template: str = "1"
    issue_date: date | None = None
    seller: Seller | None = None
    workers: int | None = None
    engine: Literal["local", "dask"] = "local"
    scheduler: str | None = None
    chunk_size: int = 100
    deliver: bool = False
    notify_anomalies: bool = False
    due_days: int = 10
    report_dir: Path | None = None
    progress: ProgressCallback | None = None
    channel: Channel | None = None
    listed: int = 50
    open_period: bool = False


@dataclass(frozen=True)
class BatchSummary:
    """What a batch did: counts, totals by VAT rate and by tier, anomalies, paths, speed.

    ``issued`` counts invoices numbered by this run, ``already_issued`` those a
    previous run had issued for rows of this file; the totals cover both (the
    whole period of this file). ``anomalies``/``rejections`` list the first
    ``BatchOptions.listed`` of each; the counts are complete. ``workers`` is the
    local pool's size, or the Dask cluster's worker threads. ``warnings`` says what
    the operator should know although nothing failed (bills issued without a
    payment QR code because no payee is configured). ``lines`` counts the
    file's physical lines (the header's, the rows', blank ones): each line is the
    header, blank, or part of a row, and each row is issued (now or before) or in
    ``rejected.csv`` with the lines it took. ``documents_pending`` counts rows
    numbered (and counted as issued) whose documents could not be made; they are
    in ``rejected.csv`` too, field ``(documents)``, and the next run retries them.
    """

    period: str
    input: Path
    series: str
    template: str
    issue_date: date
    engine: str
    workers: int
    lines: int
    blank_lines: int
    rows: int
    valid: int
    issued: int
    already_issued: int
    rejected: int
    documents_pending: int
    completed_pending: int
    meters: int
    subscriptions: int
    by_vat_rate: Mapping[str, Mapping[str, Decimal]]
    by_tier: Mapping[int, Mapping[str, Decimal]]
    total_before_tax: Decimal
    total_tax: Decimal
    total_payable: Decimal
    credit_used: Decimal
    anomaly_counts: Mapping[str, int]
    anomalies: tuple[Anomaly, ...]
    rejections: tuple[Rejection, ...]
    deliveries: Mapping[str, int]
    first_number: int | None
    last_number: int | None
    checkpoint_size: int | None
    data_dir: Path
    report_dir: Path
    rejected_csv: Path
    summary_json: Path
    elapsed_seconds: float
    warnings: tuple[str, ...] = ()

    @property
    def invoices_per_second(self) -> float:
        """Invoices numbered and signed by this run per second of its whole run time."""
        return self.issued / self.elapsed_seconds if self.elapsed_seconds > 0 else 0.0

    @property
    def anomaly_total(self) -> int:
        return sum(self.anomaly_counts.values())

    @property
    def exit_code(self) -> int:
        """0 when every row was issued with its documents, 1 when some were rejected or
        wait for their documents (the others issued)."""
        return 1 if self.rejected or self.documents_pending else 0

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: amounts as strings, dates in ISO form, paths absolute."""

        def amounts(values: Mapping[str, Decimal]) -> dict[str, str]:
            return {k: str(v) for k, v in values.items()}

        return {
            "period": self.period,
            "input": str(self.input),
            "series": self.series,
            "template": self.template,
            "issue_date": self.issue_date.isoformat(),
            "engine": self.engine,
            "workers": self.workers,
            "counts": {
                "lines": self.lines,
                "blank_lines": self.blank_lines,
                "rows": self.rows,
                "valid": self.valid,
                "issued": self.issued,
                "already_issued": self.already_issued,
                "rejected": self.rejected,
                "documents_pending": self.documents_pending,
                "completed_pending": self.completed_pending,
                "meters": self.meters,
                "subscriptions": self.subscriptions,
            },
            "numbers": {"first": self.first_number, "last": self.last_number},
            "totals": {
                "before_tax": str(self.total_before_tax),
                "tax": str(self.total_tax),
                "payable": str(self.total_payable),
                "credit_used": str(self.credit_used),
            },
            "by_vat_rate": {rate: amounts(v) for rate, v in self.by_vat_rate.items()},
            "by_tier": {str(tier): amounts(v) for tier, v in self.by_tier.items()},
            "anomalies": {
                "count": self.anomaly_total,
                "by_kind": dict(self.anomaly_counts),
                "listed": [a.to_dict() for a in self.anomalies],
            },
            "rejections": [dataclasses.asdict(r) for r in self.rejections],
            "deliveries": dict(self.deliveries),
            "checkpoint_size": self.checkpoint_size,
            "paths": {
                "data_dir": str(self.data_dir),
                "invoices": str(self.data_dir / "invoices"),
                "report_dir": str(self.report_dir),
                "rejected_csv": str(self.rejected_csv),
                "summary_json": str(self.summary_json),
            },
            "warnings": list(self.warnings),
            "elapsed_seconds": round(self.elapsed_seconds, 3),
            "invoices_per_second": round(self.invoices_per_second, 2),
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, indent=2)


# -- what a worker needs ------------------------------------------------------------------
