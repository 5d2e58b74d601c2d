"""The monthly batch: one period's invoices for every customer, from a CSV file.

``run_batch(input_path, period, options=BatchOptions(...), ctx=ctx)`` checks every
row first (rejections go to ``rejected.csv``), then issues the valid rows on a
local process pool or a Dask cluster, resumably and idempotently, and returns a
:class:`BatchSummary` (also written as ``summary.json``).
"""
