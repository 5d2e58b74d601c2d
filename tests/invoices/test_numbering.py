"""Gapless numbering: sequence, rollback, limits, date order, and many concurrent writers."""

from __future__ import annotations

import multiprocessing
import queue
import random
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from evservice._context import Context
from evservice.clock import ManualClock
from evservice.config import Settings
from evservice.errors import NumberingError, SeriesOrderError, ValidationError
from evservice.invoices import next_number, next_numbers, record_invoice, record_invoices
from evservice.invoices._identifiers import MAX_NUMBER
from evservice.invoices._numbering import current_number
from evservice.invoices._tables import InvoiceRow, SeriesCounter
from evservice.store import get_engine, migrate, transaction


def test_numbers_start_at_one_and_follow_each_other(engine: Engine) -> None:
    taken = []
    for _ in range(5):
        with transaction(engine) as session:
            taken.append(next_number(session, "1", "C26TAA"))
    assert taken == [1, 2, 3, 4, 5]
    with transaction(engine) as session:
        assert current_number(session, "1", "C26TAA") == 5
        assert current_number(session, "1", "C26TAB") == 0


def test_each_template_and_series_counts_on_its_own(engine: Engine) -> None:
    with transaction(engine) as session:
        assert next_number(session, "1", "C26TAA") == 1
        assert next_number(session, "1", "C26TAB") == 1
        assert next_number(session, "2", "C26TAA") == 1
        assert next_number(session, "1", "c26taa") == 2  # normalised like the model does
        assert next_number(session, "1", "K27TAA") == 1  # next year's series starts again


def test_a_rollback_gives_the_number_back(engine: Engine) -> None:
    with transaction(engine) as session:
        assert next_number(session, "1", "C26TAA") == 1

    class Boom(Exception):
        pass

    def take_then_fail() -> None:
        with transaction(engine) as session:
            assert next_number(session, "1", "C26TAA") == 2
            raise Boom

    with pytest.raises(Boom):
        take_then_fail()
    with transaction(engine) as session:
        assert next_number(session, "1", "C26TAA") == 2


def test_a_series_stops_at_99_999_999(engine: Engine) -> None:
    with transaction(engine) as session:
        session.add(SeriesCounter(template="1", series="C26TAA", last_number=MAX_NUMBER - 1))
    with transaction(engine) as session:
        assert next_number(session, "1", "C26TAA") == MAX_NUMBER
    with pytest.raises(NumberingError, match="exhausted"), transaction(engine) as session:
        next_number(session, "1", "C26TAA")
    with transaction(engine) as session:
        assert current_number(session, "1", "C26TAA") == MAX_NUMBER


def test_numbers_must_follow_issue_dates(engine: Engine) -> None:
    with transaction(engine) as session:
        assert next_number(session, "1", "C26TAA", issue_date=date(2026, 3, 10)) == 1
        assert next_number(session, "1", "C26TAA", issue_date=date(2026, 3, 10)) == 2
        assert next_number(session, "1", "C26TAA", issue_date=date(2026, 3, 12)) == 3
    with pytest.raises(SeriesOrderError) as info, transaction(engine) as session:
        next_number(session, "1", "C26TAA", issue_date=date(2026, 3, 11))
    assert isinstance(info.value, ValidationError)
    assert isinstance(info.value, NumberingError)
    assert info.value.field == "issue_date"
    assert "2026-03-12" in str(info.value)
    with transaction(engine) as session:  # the refused call took nothing
        assert next_number(session, "1", "C26TAA", issue_date=date(2026, 3, 12)) == 4
        # another series has its own last date
        assert next_number(session, "1", "C26TAB", issue_date=date(2026, 1, 2)) == 1


@pytest.mark.parametrize(("template", "series"), [("7", "C26TAA"), ("1", "C26"), ("1", "X26TAA")])
def test_bad_template_or_series_is_refused(engine: Engine, template: str, series: str) -> None:
    with pytest.raises(ValidationError), transaction(engine) as session:
        next_number(session, template, series)


def test_a_run_of_numbers_is_taken_at_once(engine: Engine) -> None:
    with transaction(engine) as session:
        assert next_numbers(session, "1", "C26TAA", 100, issue_date=date(2026, 3, 10)) == 1
        assert next_number(session, "1", "C26TAA") == 101
        assert next_numbers(session, "1", "C26TAA", 1) == 102
    with pytest.raises(SeriesOrderError), transaction(engine) as session:
        next_numbers(session, "1", "C26TAA", 5, issue_date=date(2026, 3, 9))
    with transaction(engine) as session:
        assert current_number(session, "1", "C26TAA") == 102


def test_a_run_that_does_not_fit_in_the_series_takes_nothing(engine: Engine) -> None:
    with transaction(engine) as session:
        session.add(SeriesCounter(template="1", series="C26TAA", last_number=MAX_NUMBER - 3))
    with pytest.raises(NumberingError, match="3 of its") as info, transaction(engine) as session:
        next_numbers(session, "1", "C26TAA", 4)
    assert "4 are needed" in str(info.value)
    with transaction(engine) as session:
        assert next_numbers(session, "1", "C26TAA", 3) == MAX_NUMBER - 2
        assert current_number(session, "1", "C26TAA") == MAX_NUMBER


# -- many processes at once ------------------------------------------------------------

WORKERS = 8
OWN = 50  # references only this worker issues
SHARED = 10  # of its neighbour's references, issued by both at once
ISSUE_DATE = date(2026, 11, 1)
NOW = datetime(2026, 11, 1, 3, 0, tzinfo=UTC)


def _draft(reference: str) -> dict[str, Any]:
    return {
        "series": "C26TAA",
        "issue_date": ISSUE_DATE.isoformat(),
        "reference": reference,
        "seller": {"name": "Điện lực Thử", "tax_code": "0100100079", "address": "Hà Nội"},
        "buyer": {"person_name": "Khách hàng"},
        "lines": [{"name": "Điện", "quantity": "100", "unit_price": "1984", "vat_rate": "8%"}],
    }


def _worker(
    url: str,
    data_dir: str,
    references: list[str],
    ready: Any,
    go: Any,
    results: Any,
    chunk: int,
) -> None:
    """Issue ``references`` through the public issuing transaction; report (ref, number).

    ``chunk`` 0 issues one at a time (:func:`record_invoice`), else that many per
    transaction (:func:`record_invoices`, as the batch does).
    """
    settings = Settings(data_dir=Path(data_dir), database_url=url, _env_file=None)  # type: ignore[call-arg]
    ctx = Context(settings=settings, clock=ManualClock(NOW))
    import time

    t0 = time.perf_counter()
    ctx.engine.connect().close()  # migrate and connect before the start signal
    t1 = time.perf_counter()
    ready.put(True)
    go.wait()
    t2 = time.perf_counter()
    out = []
    if chunk:
        for start in range(0, len(references), chunk):
            part = references[start : start + chunk]
            issued_many = record_invoices([_draft(r) for r in part], ctx=ctx)
            out += [(r, i.number, i.created) for r, i in zip(part, issued_many, strict=True)]
    else:
        for reference in references:
            issued = record_invoice(_draft(reference), ctx=ctx)
            out.append((reference, issued.number, issued.created))
    t3 = time.perf_counter()
    print(f"TIMING migrate {t1 - t0:.2f} wait {t2 - t1:.2f} issue {t3 - t2:.2f}", flush=True)
    results.put(out)


@pytest.mark.slow
@pytest.mark.parametrize("chunk", [0, 7], ids=["one-by-one", "seven-at-once"])
def test_concurrent_processes_get_gapless_unique_numbers(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, chunk: int
) -> None:
    migrate(get_engine(db_url))
    # The workers import this module by name (pytest runs with --import-mode=importlib).
    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parents[2]))
    # forkserver: a clean server process imports evservice once, and every worker is
    # forked from it (no inherited connections, no import cost per worker).
    mp = multiprocessing.get_context("forkserver")
    mp.set_forkserver_preload(
        ["evservice.invoices", "evservice.store._models", "alembic.command", "psycopg"]
    )
    ready, results, go = mp.Queue(), mp.Queue(), mp.Event()
    total = WORKERS * OWN
    refs = [f"ref-{i:04d}" for i in range(total)]
    rng = random.Random(7)
    processes = []
    for w in range(WORKERS):
        # Worker w also issues some of worker w + 1's references: those are issued by
        # two processes at once, and every process takes numbers in the same series.
        mine = refs[w * OWN : (w + 1) * OWN]
        neighbour = (w + 1) % WORKERS
        mine += refs[neighbour * OWN : neighbour * OWN + SHARED]
        rng.shuffle(mine)
        processes.append(
            mp.Process(
                target=_worker, args=(db_url, str(tmp_path), mine, ready, go, results, chunk)
            )
        )
    for p in processes:
        p.start()
    try:
        for _ in processes:
            ready.get(timeout=60)
        go.set()
        outcomes = [results.get(timeout=60) for _ in processes]
    except queue.Empty:  # pragma: no cover - shows which worker died
        pytest.fail(f"workers did not finish: {[p.exitcode for p in processes]}")
    finally:
        for p in processes:
            p.join(timeout=30)
            if p.is_alive():  # pragma: no cover - only after a failure above
                p.kill()
    assert all(p.exitcode == 0 for p in processes)

    by_reference: dict[str, set[int]] = {}
    created = 0
    for outcome in outcomes:
        for reference, number, was_created in outcome:
            by_reference.setdefault(reference, set()).add(number)
            created += was_created
    assert set(by_reference) == set(refs)
    assert all(len(numbers) == 1 for numbers in by_reference.values())  # same answer to both
    assert created == total  # each reference issued exactly once

    engine = get_engine(db_url)
    with engine.connect() as conn:
        numbers = sorted(
            conn.execute(
                sa.select(InvoiceRow.number).where(InvoiceRow.series == "C26TAA")  # type: ignore[arg-type]
            ).scalars()
        )
        last = conn.execute(sa.select(SeriesCounter.last_number)).scalar_one()  # type: ignore[arg-type]
    assert numbers == list(range(1, total + 1))  # no gap, no duplicate
    assert last == total
    assert sorted(n for (n,) in by_reference.values()) == numbers
