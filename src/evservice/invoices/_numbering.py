"""Gapless invoice numbers (``SHDon``) within a (template, series).

The law (Decree 123/2020, art. 10; Circular 78/2021) wants the numbers of a
series to run 1, 2, 3, ... with no gap and no repeat, and in the order of the
issue dates. :func:`next_number` takes the next number inside the caller's open
transaction (:func:`next_numbers` a run of consecutive ones, for the batch):

1. the counter row of the series is locked (``SELECT ... FOR UPDATE`` on
   PostgreSQL; on SQLite every write transaction already begins ``IMMEDIATE``, so
   there is one writer at a time);
2. if it is missing, it is created without racing another creator (``INSERT ...
   ON CONFLICT DO NOTHING``: a concurrent creator waits for the first one's
   commit, then inserts nothing) and locked;
3. it is checked (at most 99,999,999; the issue date is not earlier than the
   last one given in the series) and incremented.

The caller inserts the invoice row in the same transaction: if anything fails
before the commit, the rollback gives the number back, so there are neither
gaps nor duplicates. A series restarts every year by construction: its two
digits of the year must match the issue date (checked by the model), so next
year's invoices use another series and therefore another counter.
"""

from __future__ import annotations

from datetime import date

import sqlalchemy as sa
from sqlmodel import Session

from evservice.errors import NumberingError, SeriesOrderError
from evservice.invoices._identifiers import MAX_NUMBER, validate_series, validate_template
from evservice.invoices._tables import SeriesCounter
from evservice.store import insert_if_absent

__all__ = ["current_number", "next_number", "next_numbers"]


_TABLE: sa.Table = SeriesCounter.__table__  # type: ignore[attr-defined]


# Built once: the hot path only binds values.
_LOCK = (
    sa.select(_TABLE.c.last_number, _TABLE.c.last_issue_date)
    .where(_TABLE.c.template == sa.bindparam("t"), _TABLE.c.series == sa.bindparam("s"))
    .with_for_update()
)
_ADVANCE = (
    sa.update(_TABLE)
    .where(_TABLE.c.template == sa.bindparam("t"), _TABLE.c.series == sa.bindparam("s"))
    .values(last_number=sa.bindparam("n"), last_issue_date=sa.bindparam("d"))
)


def _lock_counter(session: Session, template: str, series: str) -> tuple[int, date | None] | None:
    row = session.execute(_LOCK, {"t": template, "s": series}).first()
    return None if row is None else (int(row.last_number), row.last_issue_date)


def next_number(
    session: Session, template: str, series: str, *, issue_date: date | None = None
) -> int:
    """Take the next number of (template, series) inside the caller's transaction.

    With ``issue_date``, refuse a date earlier than the last one issued in the
    series (numbers must follow the dates) with :class:`SeriesOrderError` naming
    ``issue_date``, and remember it. Raise :class:`NumberingError` when the series
    is exhausted (99,999,999 numbers). The number is final only if the caller's
    transaction commits.
    """
    return next_numbers(session, template, series, 1, issue_date=issue_date)


def next_numbers(
    session: Session, template: str, series: str, count: int, *, issue_date: date | None = None
) -> int:
    """Take ``count`` consecutive numbers of (template, series); return the first.

    One lock and one update for the whole run (the batch numbers a chunk at a
    time); the rules are those of :func:`next_number`, and the whole run must fit
    in the series, or none of it is taken.
    """
    if count < 1:
        raise ValueError("count must be at least 1")  # a programming error, not input
    template = validate_template(template)
    series = validate_series(series)
    counter = _lock_counter(session, template, series)
    if counter is None:  # the first number of the series
        insert_if_absent(
            session, _TABLE, {"template": template, "series": series, "last_number": 0}
        )
        counter = _lock_counter(session, template, series)
        assert counter is not None  # noqa: S101 - just created, and locked
    last_number, last_date = counter
    if last_number + count > MAX_NUMBER:
        left = MAX_NUMBER - last_number
        raise NumberingError(
            f"series {template}{series} is exhausted: {left:,} of its {MAX_NUMBER:,} numbers "
            f"are left and {count:,} are needed; continue in a new series"
        )
    if issue_date is not None and last_date is not None and issue_date < last_date:
        raise SeriesOrderError(
            "issue_date",
            f"{issue_date.isoformat()} is earlier than {last_date.isoformat()}, the date of "
            f"the last invoice of series {template}{series}; numbers must follow the issue "
            "dates",
        )
    first = last_number + 1
    if issue_date is not None and (last_date is None or issue_date > last_date):
        last_date = issue_date
    session.execute(
        _ADVANCE, {"t": template, "s": series, "n": last_number + count, "d": last_date}
    )
    return first


def current_number(session: Session, template: str, series: str) -> int:
    """The last number given in (template, series), 0 when none was (no lock taken)."""
    counter = session.get(SeriesCounter, (validate_template(template), validate_series(series)))
    return 0 if counter is None else counter.last_number
