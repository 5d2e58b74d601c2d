"""Does the monthly batch's memory stay flat as the input grows? Its two reading passes, measured.

For files of N and 4N customers (demo data), the peak of Python's traced
memory (``tracemalloc``) while the batch

* checks every row (pass 1: parse, price, draft; duplicate keys on disk), and
* reads the valid rows again in chunks (pass 2, without issuing: the chunks
  are dropped as a worker would take them),

against the same-run baseline of reading the file with the duplicate keys in a
set in memory (what ``read_batch_csv`` does by default). Flat means the peak of
the 4N file is about the peak of the N file (ratio near 1); the baseline grows
with the file (ratio near 4). A warm-up on another file first fills
pydantic-core's string cache, which keeps about 1 MB of recent strings whatever
the file size, so that it does not count as growth. Issuing itself holds at most ``2 x workers``
chunks in flight by construction; bench/bench_batch.py measures its speed.

Run:  .venv/bin/python bench/bench_batch_memory.py [--customers 1000]
"""

from __future__ import annotations

import argparse
import gc
import tempfile
import tracemalloc
from collections.abc import Callable
from pathlib import Path

from evservice._context import Context
from evservice.batch import (
    BatchOptions,
    _drafts,
    _report,
    _run,
    parse_period,
    read_batch_csv,
    write_demo_csv,
)
from evservice.config import Settings
from evservice.invoices._tariffs import load_tariffs

COMMAND = ".venv/bin/python bench/bench_batch_memory.py"
PERIOD = parse_period("2026-11")
SELLER = {
    "seller_name": "Tổng công ty Điện lực TP Hà Nội",
    "seller_tax_code": "0100101114",
    "seller_address": "69 Đinh Tiên Hoàng, Hà Nội",
}


def _peak(run: Callable[[], object]) -> int:
    """Peak traced bytes above the start while ``run`` runs.

    Tracing runs from before the warm-up on: memory freed during ``run`` then
    counts as freed (a trace started later would miss the frees of older blocks).
    """
    gc.collect()
    tracemalloc.reset_peak()
    base = tracemalloc.get_traced_memory()[0]
    run()
    return tracemalloc.get_traced_memory()[1] - base


def _passes(path: Path, work: Path, ctx: Context) -> tuple[int, int]:
    params = _drafts.make_params(ctx, PERIOD, BatchOptions())
    tariffs = load_tariffs(None)

    def check() -> None:
        log = _report.RejectionLog(work / "rejected.csv", 50)
        try:
            _run._validate(path, params, tariffs, log, None)
        finally:
            log.close()

    def read_again() -> None:
        for _chunk in _run._chunks(path, params, set(), 100, work):
            pass

    return _peak(check), _peak(read_again)


def _baseline(path: Path) -> int:
    def read() -> None:
        for _row in read_batch_csv(path, PERIOD):
            pass

    return _peak(read)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=1000)
    args = parser.parse_args()
    tracemalloc.start()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        settings = Settings(data_dir=work / "data", _env_file=None, **SELLER)  # type: ignore[call-arg]
        ctx = Context(settings=settings)
        small = write_demo_csv(work / "small.csv", customers=args.customers, period=PERIOD)
        large = write_demo_csv(work / "large.csv", customers=4 * args.customers, period=PERIOD)
        warm = write_demo_csv(work / "warm.csv", customers=4000, period=PERIOD, seed=1)
        _passes(warm, work, ctx)  # warm-up: tariffs, validators, pydantic's string cache
        results = {name: (*_passes(path, work, ctx), _baseline(path)) for name, path in
                   (("N", small), ("4N", large))}  # fmt: skip
    print(f"peak traced memory, N = {args.customers} customers")
    print(f"{'':4} {'pass 1 (check)':>16} {'pass 2 (read)':>16} {'baseline (set)':>16}")
    for name, values in results.items():
        print(f"{name:4} " + " ".join(f"{v / 1024:>13.0f} KB" for v in values))
    ratios = [large / small for small, large in zip(results["N"], results["4N"], strict=True)]
    print(
        f"growth 4N/N: pass 1 {ratios[0]:.2f}x, pass 2 {ratios[1]:.2f}x, "
        f"baseline {ratios[2]:.2f}x (flat = 1, proportional = 4)"
    )
    print(f"reproduce: {COMMAND} --customers {args.customers}")


if __name__ == "__main__":
    main()
