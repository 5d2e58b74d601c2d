"""The monthly batch: one period's invoices for every customer, from a CSV file.

``run_batch(input_path, period, ctx=ctx, options=BatchOptions(...))`` checks every
row first (rejections go to ``rejected.csv``), then issues the valid rows on a
local process pool or a Dask cluster, resumably and idempotently, and returns a
:class:`BatchSummary` (also written as ``summary.json``).

Where each part lives:

* ``_input.py``: the CSV format, read row by row (:func:`read_batch_csv`);
* ``_options.py``: :class:`BatchOptions` and :class:`BatchSummary`;
* ``_drafts.py``: a row priced and turned into an invoice draft;
* ``_worker.py``: issuing one chunk (numbering, history, credits, documents);
* ``_notices.py``: the e-mail, SMS and anomaly notices queued once per invoice;
* ``_executors.py``: where chunks run (inline, local pool, Dask) behind one protocol;
* ``_report.py``: ``rejected.csv``, merging chunk results, the summary;
* ``_run.py``: :func:`run_batch`, the two passes;
* ``_anomalies.py``: consumption anomalies; ``_demo.py``: demo input; ``_tables.py``: tables.

:class:`BatchCredit` is the ledger of credit carried forward per customer and plan
(reconciliation adds overpayments to it; the plan's next bill spends it).

The batch uses the invoices package only through its public names; nothing in
``evservice.invoices`` imports the batch.
"""

from evservice.batch._anomalies import Anomaly, find_anomalies
from evservice.batch._demo import write_demo_csv
from evservice.batch._drafts import batch_reference, seller_from_settings
from evservice.batch._executors import (
    DaskExecutor,
    Executor,
    InlineExecutor,
    PoolExecutor,
    open_executor,
)
from evservice.batch._input import (
    BatchPeriod,
    MeterRow,
    Rejection,
    Row,
    SubscriptionRow,
    last_finished_period,
    parse_period,
    read_batch_csv,
)
from evservice.batch._options import BatchOptions, BatchSummary, ProgressCallback
from evservice.batch._run import run_batch
from evservice.batch._tables import BatchCredit

__all__ = [
    "Anomaly",
    "BatchCredit",
    "BatchOptions",
    "BatchPeriod",
    "BatchSummary",
    "DaskExecutor",
    "Executor",
    "InlineExecutor",
    "MeterRow",
    "PoolExecutor",
    "ProgressCallback",
    "Rejection",
    "Row",
    "SubscriptionRow",
    "batch_reference",
    "find_anomalies",
    "last_finished_period",
    "open_executor",
    "parse_period",
    "read_batch_csv",
    "run_batch",
    "seller_from_settings",
    "write_demo_csv",
]
