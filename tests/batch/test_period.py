"""A batch bills a month that has ended by the issue date, unless told otherwise."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from evservice._context import Context
from evservice.batch import last_finished_period
from evservice.batch._run import NO_PAYEE_WARNING
from evservice.errors import ValidationError

from .test_run import batch_settings, good_rows, meter, run, write_csv


@pytest.mark.parametrize(
    ("today", "period"),
    [
        (date(2026, 12, 2), "2026-11"),
        (date(2026, 12, 1), "2026-11"),
        (date(2026, 11, 30), "2026-10"),
        (date(2027, 1, 15), "2026-12"),
    ],
)
def test_the_last_finished_period(today: date, period: str) -> None:
    assert str(last_finished_period(today)) == period


def test_an_open_month_is_refused_then_allowed_explicitly(
    sqlite_ctx: Context, tmp_path: Path
) -> None:
    sqlite_bctx = Context(settings=batch_settings(sqlite_ctx.settings), clock=sqlite_ctx.clock)
    path = write_csv(tmp_path / "in.csv", good_rows(2))
    with pytest.raises(ValidationError) as info:
        run(sqlite_bctx, path, "2026-11")  # the clock says 2026-11-01
    assert info.value.field == "period"
    assert "has not ended by the issue date 2026-11-01" in info.value.reason
    assert run(sqlite_bctx, path, "2026-10").issued == 2
    early = [meter(f"E{i}", 100, 180, start="2026-10-02", end="2026-11-01") for i in range(2)]
    path = write_csv(tmp_path / "early.csv", early)
    assert run(sqlite_bctx, path, "2026-11", open_period=True).issued == 2


def test_a_batch_without_a_payee_says_its_bills_have_no_payment_code(
    sqlite_ctx: Context, tmp_path: Path
) -> None:
    settings = batch_settings(sqlite_ctx.settings, payee_bank_bin=None, payee_account=None)
    ctx = Context(settings=settings, clock=sqlite_ctx.clock)
    summary = run(ctx, write_csv(tmp_path / "in.csv", good_rows(1)))
    assert summary.issued == 1
    assert summary.warnings == (NO_PAYEE_WARNING,)
    assert summary.to_dict()["warnings"] == [NO_PAYEE_WARNING]
    with_payee = Context(settings=batch_settings(sqlite_ctx.settings), clock=sqlite_ctx.clock)
    assert run(with_payee, write_csv(tmp_path / "in2.csv", good_rows(1, "P"))).warnings == ()
