"""The same batch on a Dask cluster (a LocalCluster of two worker processes) on PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import distributed
import pytest

from evservice._context import Context
from evservice.batch import BatchOptions, run_batch
from evservice.clock import ManualClock
from evservice.config import Settings

from .test_run import assert_gapless, batch_settings, good_rows, issued_invoices, write_csv


@pytest.fixture(scope="module")
def cluster() -> Iterator[str]:
    """Two single-threaded worker processes and a scheduler, on loopback."""
    with distributed.LocalCluster(
        n_workers=2,
        processes=True,
        threads_per_worker=1,
        dashboard_address=":0",  # a free port: other runs on this machine may hold 8787
        host="127.0.0.1",
    ) as local:
        yield local.scheduler_address


@pytest.fixture
def dctx(settings: Settings, clock: ManualClock) -> Context:
    return Context(settings=batch_settings(settings), clock=clock)


@pytest.mark.postgres
@pytest.mark.parametrize("db_url", ["postgres"], indirect=True)
def test_a_dask_cluster_issues_without_gaps(dctx: Context, tmp_path: Path, cluster: str) -> None:
    path = write_csv(tmp_path / "in.csv", [*good_rows(24), *good_rows(2, prefix="X")])
    options = BatchOptions(engine="dask", scheduler=cluster, chunk_size=3)
    summary = run_batch(path, "2026-10", ctx=dctx, options=options)
    assert (summary.engine, summary.workers) == ("dask", 2)
    assert (summary.issued, summary.rejected) == (26, 0)
    invoices = issued_invoices(dctx)
    assert_gapless(invoices)
    assert len(invoices) == 26
    assert all(i.has_documents for i in invoices)
    # The workers used the caller's (manual) clock.
    assert {i.invoice.issued_at for i in invoices} == {dctx.clock.now()}
    again = run_batch(path, "2026-10", ctx=dctx, options=options)
    assert (again.issued, again.already_issued) == (0, 26)
    assert len(issued_invoices(dctx)) == 26
