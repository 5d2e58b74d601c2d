"""The data summary table of a month of demo invoices: cost, and totals to the dong.

Issues ``--invoices`` demo invoices with :func:`evservice.batch.run_batch` (a
fresh SQLite store, the development key), replaces one and adjusts one, then
times :func:`evservice.tax.build_summary` for the month (tables of at most
5,000 rows, each signed, checked against ``bthdlieu.xsd`` and stored) against
a baseline measured in the same run: reading the month's invoices back with
:func:`evservice.invoices.list_invoices` (what any report must do first). It
then checks that the tables' totals by VAT rate equal the batch summary's plus
the two corrections, to the dong, and that a rerun adds nothing.

Run:  .venv/bin/python bench/bench_tax_summary.py --invoices 10000 [--workers 2]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections import defaultdict
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from lxml import etree

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.tax.conftest import SELLER_SETTINGS, correct

from evservice._context import Context
from evservice.batch import BatchOptions, parse_period, run_batch, write_demo_csv
from evservice.clock import ManualClock
from evservice.config import Settings
from evservice.invoices import list_invoices
from evservice.tax import build_summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--invoices", type=int, default=10_000)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="evs-tax-bench-") as folder:
        data = Path(folder) / "data"
        settings = Settings(data_dir=data, _env_file=None, **SELLER_SETTINGS)  # type: ignore[call-arg]
        ctx = Context(settings=settings, clock=ManualClock(datetime(2026, 11, 1, 2, tzinfo=UTC)))
        source = write_demo_csv(
            Path(folder) / "in.csv", customers=args.invoices, period=parse_period("2026-10")
        )
        started = time.perf_counter()
        batch = run_batch(source, "2026-10", ctx=ctx, options=BatchOptions(workers=args.workers))
        batch_s = time.perf_counter() - started
        invoices = []
        while len(invoices) % 10_000 == 0:
            page = list_invoices(ctx=ctx, limit=10_000, offset=len(invoices))
            invoices.extend(page)
            if not page:
                break
        _, replacement, _, adjustment = correct(ctx, invoices)

        started = time.perf_counter()
        offset = 0
        while True:
            page = list_invoices(ctx=ctx, limit=10_000, offset=offset)
            offset += len(page)
            if len(page) < 10_000:
                break
        baseline_s = time.perf_counter() - started
        started = time.perf_counter()
        build = build_summary("2026-11", ctx=ctx)
        build_s = time.perf_counter() - started
        again = build_summary("2026-11", ctx=ctx)

        sums: dict[str, Decimal] = defaultdict(Decimal)
        for table in build.tables:
            root = etree.fromstring(table.xml_path.read_bytes())
            for row in root.iterfind("DLBTHop/NDBTHDLieu/DSDLieu/DLieu"):
                sums[row.findtext("TSuat") or ""] += Decimal(row.findtext("TgTTToan") or "0")
        expected: dict[str, Decimal] = defaultdict(Decimal)
        for rate, values in batch.by_vat_rate.items():
            expected[rate] += values["payable"]
        for correction in (replacement, adjustment):
            for group in correction.invoice.totals.by_rate:
                expected[group.rate] += group.amount + (group.tax or 0)
        ok = dict(sums) == dict(expected) and again.created == ()
        rows = sum(t.rows for t in build.tables)
        print(f"invoices: {args.invoices} issued in {batch_s:.1f} s (workers={args.workers})")
        print(f"tables: {len(build.tables)}, rows: {rows}, sizes: {[t.rows for t in build.tables]}")
        print(f"baseline (list_invoices of the month): {baseline_s:.2f} s")
        print(f"build_summary: {build_s:.2f} s = {build_s / baseline_s:.2f} x the baseline")
        print(f"per row: {build_s / rows * 1000:.2f} ms")
        print(f"totals by rate equal the batch's plus the corrections: {ok}")
        for rate in sorted(sums):
            print(f"  {rate}: tables {sums[rate]} / expected {expected[rate]}")
        print(f"command: .venv/bin/python bench/bench_tax_summary.py --invoices {args.invoices}")
        if not ok:
            raise SystemExit(1)


if __name__ == "__main__":
    main()
