"""Rotation, migration of a plaintext store, and the check of what is sealed.

The domains describe their sealed columns as :class:`SealedTable` values
(``invoices.SEALED_TABLES`` and the like); the CLI hands them over, so this
package never imports a domain.

One pass serves :func:`rotate` and :func:`migrate`: walk each table in primary
key order, a batch per transaction, and seal again every value that is
plaintext or under a superseded key; the job's cursor (the last key done per
table) is written in the same transaction as the batch, so a run killed at any
point resumes after the last committed batch and never seals a value twice
under a key it already moved away from. A rotation starts by marking the live
keys superseded (in the transaction that creates its job); new values then go
to a new generation of each scope, made on first use.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from evservice import audit
from evservice._context import Context
from evservice.privacy._cipher import FieldPlace, is_sealed, key_id_of
from evservice.privacy._keyring import INDEX_SCOPE, KEYS, Keyring, keyring
from evservice.privacy._tables import PrivacyJob
from evservice.store import transaction

__all__ = [
    "ColumnReport",
    "PassResult",
    "Plain",
    "SealedTable",
    "StoreReport",
    "migrate",
    "retire",
    "rotate",
    "verify",
]

JOBS: sa.Table = PrivacyJob.__table__  # type: ignore[attr-defined]
#: The plaintext of a row's sealed columns, by column name.
Plain = Mapping[str, str | None]
Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class SealedTable:
    """A table with sealed columns, as its domain describes it.

    ``place`` gives the row's key for the associated data (the primary key as
    text, or what stands for it); ``scope`` the key scope a plaintext row goes
    under, from its plaintext; ``indexes`` fill blind-index columns from it.
    """

    table: sa.Table
    columns: tuple[str, ...]
    place: Callable[[Any], str]
    scope: Callable[[Keyring, Connection, Plain], str]
    indexes: Mapping[str, Callable[[Keyring, Connection, Plain], str | None]] = field(
        default_factory=dict
    )
    #: Other columns ``place`` and ``scope`` need (in ``plain`` as ``_<name>``).
    context: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        return str(self.table.name)

    def order(self) -> sa.ColumnElement[Any]:
        (pk,) = self.table.primary_key.columns
        return pk


@dataclass(frozen=True)
class PassResult:
    """What a rotation or migration did: values sealed again, and whether it was resumed."""

    job: str
    resealed: int
    resumed: bool
    retired: int = 0


def _job(conn: Connection, name: str) -> Any:
    return conn.execute(sa.select(JOBS).where(JOBS.c.name == name)).first()


def _start(ctx: Context, name: str, *, supersede: bool) -> tuple[dict[str, Any], bool]:
    """The job's cursor (resumed, or a new job), and whether it was resumed."""
    with ctx.engine.begin() as conn:
        row = _job(conn, name)
        if row is not None and row.finished_at is None:
            return json.loads(row.cursor_json), True
        now = ctx.clock.now()
        values = {"started_at": now, "finished_at": None, "cursor_json": "{}", "rows_done": 0}
        if row is None:
            conn.execute(sa.insert(JOBS).values(name=name, **values))
        else:
            conn.execute(sa.update(JOBS).where(JOBS.c.name == name).values(**values))
        if supersede:
            conn.execute(
                sa.update(KEYS)
                .where(
                    KEYS.c.superseded_at.is_(None),
                    KEYS.c.wrapped.is_not(None),
                    KEYS.c.scope != INDEX_SCOPE,
                )
                .values(superseded_at=now)
            )
    return {}, False


def _superseded(conn: Connection) -> set[str]:
    query = sa.select(KEYS.c.id).where(
        KEYS.c.superseded_at.is_not(None), KEYS.c.wrapped.is_not(None)
    )
    return set(conn.execute(query).scalars())


def _reseal_row(
    kr: Keyring, conn: Connection, spec: SealedTable, row: Any, old: set[str]
) -> dict[str, Any]:
    """The new values of a row's columns that must change (empty: nothing to do)."""
    pk = spec.place(row)
    plain: dict[str, str | None] = {f"_{c}": getattr(row, c) for c in spec.context}
    scopes: dict[str, str] = {}
    todo: list[str] = []
    for column in spec.columns:
        value = getattr(row, column)
        place = FieldPlace(spec.name, column, pk)
        if value is None:
            plain[column] = None
            continue
        if not is_sealed(value):
            plain[column] = value
            todo.append(column)
            continue
        key_id = key_id_of(value) or ""
        key = kr.key(key_id, conn)
        if key is None:  # destroyed by forget: stays erased
            plain[column] = None
            continue
        plain[column] = kr.open(value, place, conn)
        if key_id in old:
            scopes[column] = key.scope
            todo.append(column)
    changes: dict[str, Any] = {}
    for column in todo:
        scope = scopes.get(column) or spec.scope(kr, conn, plain)
        place = FieldPlace(spec.name, column, pk)
        changes[column] = kr.seal(plain[column], place, scope, conn, force=True)
    for column, make in spec.indexes.items():
        if getattr(row, column) is None:
            value = make(kr, conn, plain)
            if value is not None:
                changes[column] = value
    return changes


def _pass(
    ctx: Context,
    name: str,
    tables: Sequence[SealedTable],
    *,
    supersede: bool,
    batch_size: int,
    progress: Progress | None,
) -> PassResult:
    kr = keyring(ctx)
    cursor, resumed = _start(ctx, name, supersede=supersede)
    kr.forget_cached()
    total = 0
    for spec in tables:
        order = spec.order()
        names = dict.fromkeys((*spec.columns, *spec.indexes, *spec.context))
        columns = [order, *(spec.table.c[c] for c in names if c != order.name)]
        while True:
            with ctx.engine.begin() as conn:
                old = _superseded(conn)
                query = sa.select(*columns).order_by(order).limit(batch_size)
                last = cursor.get(spec.name)
                if last is not None:
                    query = query.where(order > last)
                rows = conn.execute(query).all()
                if not rows:
                    break
                done = 0
                for row in rows:
                    changes = _reseal_row(kr, conn, spec, row, old)
                    if changes:
                        pk = getattr(row, order.name)
                        conn.execute(sa.update(spec.table).where(order == pk).values(**changes))
                        done += sum(1 for c in changes if c in spec.columns)
                cursor[spec.name] = getattr(rows[-1], order.name)
                conn.execute(
                    sa.update(JOBS)
                    .where(JOBS.c.name == name)
                    .values(cursor_json=json.dumps(cursor), rows_done=JOBS.c.rows_done + done)
                )
            total += done
            if progress is not None:
                progress(spec.name, len(rows), done)
    with ctx.engine.begin() as conn:
        conn.execute(sa.update(JOBS).where(JOBS.c.name == name).values(finished_at=ctx.clock.now()))
    kr.forget_cached()
    return PassResult(name, total, resumed)


def rotate(
    ctx: Context,
    tables: Sequence[SealedTable],
    *,
    retire_old: bool = False,
    batch_size: int = 500,
    progress: Progress | None = None,
) -> PassResult:
    """New data keys for every scope, and every value sealed again under them.

    Resumes an unfinished rotation instead of starting another. With
    ``retire_old``, the superseded keys no value uses any more lose their
    material (:func:`retire`).
    """
    result = _pass(ctx, "rotate", tables, supersede=True, batch_size=batch_size, progress=progress)
    retired = retire(ctx, tables) if retire_old else 0
    with transaction(ctx.engine) as session:
        audit.record(
            session,
            type="privacy.rotated",
            subject="privacy-keys",
            actor="operator",
            at=ctx.clock.now(),
            data={"resealed": result.resealed, "resumed": result.resumed, "retired": retired},
        )
    return PassResult(result.job, result.resealed, result.resumed, retired)


def migrate(
    ctx: Context,
    tables: Sequence[SealedTable],
    *,
    batch_size: int = 500,
    progress: Progress | None = None,
) -> PassResult:
    """Seal every plaintext value of a store written before encryption (or with it off).

    Resumable like :func:`rotate`; fills empty blind-index columns as it goes.
    """
    return _pass(ctx, "migrate", tables, supersede=False, batch_size=batch_size, progress=progress)


@dataclass
class ColumnReport:
    """Counts of one sealed column: plaintext, and sealed under keys by state."""

    table: str
    column: str
    plaintext: int = 0
    live: int = 0
    superseded: int = 0
    erased: int = 0
    missing: int = 0

    def line(self) -> str:
        return (
            f"{self.table}.{self.column}: {self.plaintext} plaintext, {self.live} under live keys, "
            f"{self.superseded} under superseded keys, {self.erased} erased"
            + (f", {self.missing} under unknown keys" if self.missing else "")
        )


@dataclass(frozen=True)
class StoreReport:
    """What :func:`verify` found, column by column."""

    columns: tuple[ColumnReport, ...]

    @property
    def plaintext(self) -> int:
        return sum(c.plaintext for c in self.columns)

    @property
    def superseded(self) -> int:
        return sum(c.superseded for c in self.columns)

    @property
    def ok(self) -> bool:
        """No plaintext, nothing under an old or unknown key."""
        return (
            self.plaintext == 0
            and self.superseded == 0
            and not any(c.missing for c in self.columns)
        )

    def summary(self) -> str:
        lines = [c.line() for c in self.columns]
        lines.append(
            f"{self.plaintext} values in plaintext, {self.superseded} under superseded keys"
        )
        return "\n".join(lines)


def _key_states(conn: Connection) -> dict[str, str]:
    states: dict[str, str] = {}
    query = sa.select(
        KEYS.c.id, KEYS.c.wrapped.is_(None), KEYS.c.superseded_at, KEYS.c.destroyed_at
    )
    for key_id, gone, superseded, destroyed in conn.execute(query):
        if destroyed is not None:
            states[key_id] = "erased"
        elif gone:
            states[key_id] = "missing"  # retired, yet something still points at it
        elif superseded is not None:
            states[key_id] = "superseded"
        else:
            states[key_id] = "live"
    return states


def _values(conn: Connection, spec: SealedTable, batch: int) -> Iterator[tuple[str, str | None]]:
    order = spec.order()
    names = dict.fromkeys((*spec.columns, *spec.context))
    columns = [order, *(spec.table.c[c] for c in names if c != order.name)]
    last: Any = None
    while True:
        query = sa.select(*columns).order_by(order).limit(batch)
        if last is not None:
            query = query.where(order > last)
        rows = conn.execute(query).all()
        if not rows:
            return
        last = getattr(rows[-1], order.name)
        for row in rows:
            for column in spec.columns:
                yield column, getattr(row, column)


def verify(ctx: Context, tables: Sequence[SealedTable], *, batch_size: int = 2000) -> StoreReport:
    """Count, per table and column, values in plaintext and under each state of key."""
    reports: list[ColumnReport] = []
    with ctx.engine.connect() as conn:
        states = _key_states(conn)
        for spec in tables:
            by_column = {c: ColumnReport(spec.name, c) for c in spec.columns}
            for column, value in _values(conn, spec, batch_size):
                if value is None:
                    continue
                report = by_column[column]
                key_id = key_id_of(value) if is_sealed(value) else None
                if key_id is None:
                    report.plaintext += 1
                else:
                    state = states.get(key_id, "missing")
                    setattr(report, state, getattr(report, state) + 1)
            reports.extend(by_column.values())
    return StoreReport(tuple(reports))


def retire(ctx: Context, tables: Sequence[SealedTable], *, batch_size: int = 2000) -> int:
    """Drop the material of superseded keys no stored value uses; how many were retired."""
    used: set[str] = set()
    with ctx.engine.connect() as conn:
        for spec in tables:
            for _column, value in _values(conn, spec, batch_size):
                if value is not None and (key_id := key_id_of(value)) is not None:
                    used.add(key_id)
    with ctx.engine.begin() as conn:
        old = _superseded(conn) - used
        for chunk in _chunks(sorted(old), 500):
            conn.execute(
                sa.update(KEYS)
                .where(KEYS.c.id.in_(chunk))
                .values(wrapped=None, retired_at=ctx.clock.now())
            )
    keyring(ctx).forget_cached()
    return len(old)


def _chunks(items: Sequence[str], size: int) -> Iterator[Sequence[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
