"""The monthly batch: one period's invoices for every customer, from a CSV file.

``run_batch(input_path, period, ctx=ctx, options=BatchOptions(...))`` checks every
row first (rejections go to ``rejected.csv``), then issues the valid rows on a
local process pool or a Dask cluster, resumably and idempotently, and returns a
:class:`BatchSummary` (also written as ``summary.json``). The engine lives in
:mod:`evservice.invoices._batch`; the input format in
:mod:`evservice.invoices._batch_input`.

The names are loaded on first use: the store imports this package for its
tables (``evservice.batch._tables``) while the batch itself imports the store
and the invoices, so an eager import here would make a cycle.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from evservice.invoices._anomalies import Anomaly, find_anomalies
    from evservice.invoices._batch import (
        BatchOptions,
        BatchSummary,
        ProgressCallback,
        batch_reference,
        run_batch,
        seller_from_settings,
    )
    from evservice.invoices._batch_input import (
        BatchPeriod,
        MeterRow,
        Rejection,
        SubscriptionRow,
        parse_period,
        read_batch_csv,
    )
    from evservice.invoices._demo_data import write_demo_csv

__all__ = [
    "Anomaly",
    "BatchOptions",
    "BatchPeriod",
    "BatchSummary",
    "MeterRow",
    "ProgressCallback",
    "Rejection",
    "SubscriptionRow",
    "batch_reference",
    "find_anomalies",
    "parse_period",
    "read_batch_csv",
    "run_batch",
    "seller_from_settings",
    "write_demo_csv",
]

_HOMES = {
    "Anomaly": "evservice.invoices._anomalies",
    "find_anomalies": "evservice.invoices._anomalies",
    "BatchOptions": "evservice.invoices._batch",
    "BatchSummary": "evservice.invoices._batch",
    "ProgressCallback": "evservice.invoices._batch",
    "batch_reference": "evservice.invoices._batch",
    "run_batch": "evservice.invoices._batch",
    "seller_from_settings": "evservice.invoices._batch",
    "BatchPeriod": "evservice.invoices._batch_input",
    "MeterRow": "evservice.invoices._batch_input",
    "Rejection": "evservice.invoices._batch_input",
    "SubscriptionRow": "evservice.invoices._batch_input",
    "parse_period": "evservice.invoices._batch_input",
    "read_batch_csv": "evservice.invoices._batch_input",
    "write_demo_csv": "evservice.invoices._demo_data",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'evservice.batch' has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
