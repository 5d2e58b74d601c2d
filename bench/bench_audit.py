"""What the audit log costs: appends per second, and proofs in a log of 10^6 events.

Figures, each with a baseline measured in the same run on the same machine:

* appends/s with one writer, one event per transaction (as an issuing
  transaction appends it), on SQLite and on PostgreSQL. Baseline: the same
  number of transactions that each insert one plain row of the same width into
  a scratch table (no Merkle tree, no head lock): the ratio is the price of the
  tree;
* appends/s with 8 concurrent writer processes (spawn) on PostgreSQL. Baseline:
  the one-writer PostgreSQL figure (the ratio is the scaling under the head lock);
* proof generation in a log of 10^6 events: an inclusion proof and a
  consistency proof served from the stored subtree hashes (O(log n) node reads
  in one query). Baseline: the naive proof that reads all 10^6 leaf hashes and
  recomputes the path from them (RFC 6962's recursion).

The 10^6-event log is built through the library's own ``record_many`` (the same
validation, canonical JSON, leaf hashing and frontier/node code as a normal
append), 10,000 events per transaction, so its subtree table is exactly what
appends produce. Its build time is printed too.

Run:  .venv/bin/python bench/bench_audit.py [--appends 2000] [--writers 8]
          [--proof-events 1000000] [--proofs 200] [--proof-store sqlite|postgres]
          [--pg-url URL] [--no-pg] [--verify] [--only-proofs]
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa

COMMAND = ".venv/bin/python bench/bench_audit.py"
PG_URL = os.environ.get(
    "EVSERVICE_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
T0 = datetime(2026, 11, 1, 2, 0, tzinfo=UTC)


@contextmanager
def pg_schema(base: str) -> Iterator[str]:
    """A fresh PostgreSQL schema for the run (dropped afterwards); yields its URL."""
    schema = f"bench_audit_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    url = sa.make_url(base).update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        from evservice.store import _engine

        for key, engine in list(_engine._engines.items()):
            if schema in key[1]:
                engine.dispose()
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
        admin.dispose()


def make_ctx(url: str, data_dir: Path) -> Any:
    from evservice._context import Context
    from evservice.clock import ManualClock
    from evservice.config import Settings

    settings = Settings(data_dir=data_dir, database_url=url, _env_file=None)  # type: ignore[call-arg]
    return Context(settings=settings, clock=ManualClock(T0))


def _event_data(i: int) -> dict[str, Any]:
    return {"document_sha256": f"{i:064x}", "total": 1_234_567, "channel": "email"}


def append_loop(ctx: Any, count: int, worker: int = 0) -> float:
    """``count`` appends, one transaction each; returns the seconds taken."""
    from evservice.audit import record
    from evservice.store import transaction

    engine = ctx.engine
    start = time.perf_counter()
    for i in range(count):
        with transaction(engine) as session:
            record(
                session,
                type="invoice.issued",
                subject=f"inv-{worker}-{i}",
                actor="system",
                at=T0 + timedelta(seconds=i),
                data=_event_data(i),
            )
    return time.perf_counter() - start


PLAIN = sa.Table(
    "bench_plain_event",
    sa.MetaData(),
    sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("event_id", sa.String(36)),
    sa.Column("type", sa.String(64)),
    sa.Column("subject", sa.String(128)),
    sa.Column("actor", sa.String(128)),
    sa.Column("at", sa.DateTime(timezone=True)),
    sa.Column("data", sa.Text),
)


def plain_loop(ctx: Any, count: int) -> float:
    """The baseline: ``count`` transactions inserting one plain row of the same width."""
    import json

    from evservice.store import transaction

    engine = ctx.engine
    PLAIN.create(engine, checkfirst=True)
    start = time.perf_counter()
    for i in range(count):
        with transaction(engine) as session:
            session.connection().execute(
                sa.insert(PLAIN).values(
                    id=i,
                    event_id=str(uuid.uuid4()),
                    type="invoice.issued",
                    subject=f"inv-{i}",
                    actor="system",
                    at=T0 + timedelta(seconds=i),
                    data=json.dumps(_event_data(i), sort_keys=True, separators=(",", ":")),
                )
            )
    elapsed = time.perf_counter() - start
    PLAIN.drop(engine)
    return elapsed


def writer_process(
    url: str, data_dir: str, worker: int, count: int, barrier: Any
) -> tuple[float, float]:
    """One of the concurrent writers: warm up, wait for all, append; returns (start, end)."""
    from evservice.store import get_engine

    ctx = make_ctx(url, Path(data_dir))
    ctx.__dict__["engine"] = get_engine(url)  # the parent migrated the store already
    with ctx.engine.connect() as conn:
        conn.exec_driver_sql("SELECT 1")
    barrier.wait(timeout=300)
    start = time.monotonic()
    append_loop(ctx, count, worker)
    return start, time.monotonic()


def concurrent_rate(url: str, data_dir: Path, writers: int, total: int) -> float:
    spawn = multiprocessing.get_context("spawn")
    per = total // writers
    with spawn.Manager() as manager:
        barrier = manager.Barrier(writers)
        with spawn.Pool(writers) as pool:
            spans = pool.starmap(
                writer_process, [(url, str(data_dir), w, per, barrier) for w in range(writers)]
            )
    wall = max(end for _, end in spans) - min(start for start, _ in spans)
    return per * writers / wall


def build_log(ctx: Any, events: int, chunk: int = 10_000) -> float:
    """Fill the log with ``events`` events through ``record_many``; returns seconds."""
    from evservice.audit import NewEvent, record_many
    from evservice.store import transaction

    start = time.perf_counter()
    done = 0
    while done < events:
        n = min(chunk, events - done)
        batch = [
            NewEvent(
                "invoice.issued", f"inv-{i}", "system", T0 + timedelta(seconds=i), _event_data(i)
            )
            for i in range(done, done + n)
        ]
        with transaction(ctx.engine) as session:
            record_many(session, batch)
        done += n
        print(f"  built {done:,} events", file=sys.stderr, end="\r")
    print(file=sys.stderr)
    return time.perf_counter() - start


def timed(fn: Callable[[], object], repeat: int) -> float:
    """Median seconds of ``repeat`` calls."""
    samples = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t)
    return statistics.median(samples)


def proof_figures(ctx: Any, events: int, proofs: int, verify: bool) -> None:
    from evservice.audit import (
        consistency_proof,
        inclusion_proof,
        root_at,
        verify_consistency,
        verify_inclusion,
        verify_log,
    )
    from evservice.audit._log import NODES
    from evservice.audit._merkle import reference_inclusion

    build = build_log(ctx, events)
    print(
        f"built a log of {events:,} events with record_many in {build:.1f} s "
        f"({events / build:,.0f} events/s, 10,000 per transaction)"
    )
    rng = random.Random(6962)
    root = root_at(ctx=ctx)
    indexes = [rng.randrange(events) for _ in range(proofs)]
    olds = [rng.randrange(1, events) for _ in range(proofs)]
    leaves: dict[int, bytes] = {}
    from evservice.audit._log import EVENTS, event_from_row

    with ctx.engine.connect() as conn:
        for i in indexes:
            row = conn.execute(sa.select(EVENTS).where(EVENTS.c.idx == i)).one()
            leaves[i] = event_from_row(row).leaf_hash
    it = iter(indexes)
    inc = timed(lambda: inclusion_proof(next(it), ctx=ctx), proofs)
    for i in indexes[:20]:
        assert verify_inclusion(i, events, leaves[i], inclusion_proof(i, ctx=ctx), root)
    co = iter(olds)
    con = timed(lambda: consistency_proof(next(co), ctx=ctx), proofs)
    for old in olds[:20]:
        assert verify_consistency(
            old, events, root_at(old, ctx), root, consistency_proof(old, ctx=ctx)
        )

    def naive() -> list[bytes]:
        with ctx.engine.connect() as conn:
            all_leaves = [
                bytes(h)
                for h in conn.execute(
                    sa.select(NODES.c.hash).where(NODES.c.level == 0).order_by(NODES.c.idx)
                ).scalars()
            ]
        return reference_inclusion(all_leaves, indexes[0])

    naive_s = timed(naive, 3)
    assert naive() == inclusion_proof(indexes[0], ctx=ctx)
    print(
        f"inclusion proof, {events:,} events: {inc * 1000:.2f} ms "
        f"(naive from all leaves: {naive_s * 1000:.0f} ms; {naive_s / inc:,.0f}x faster)"
    )
    print(
        f"consistency proof, {events:,} events: {con * 1000:.2f} ms "
        f"({naive_s / con:,.0f}x faster than the naive inclusion baseline)"
    )
    if verify:
        t = time.perf_counter()
        result = verify_log(ctx, chunk_size=5000)
        assert result.ok, result.summary()
        v = time.perf_counter() - t
        print(f"verify_log, {events:,} events re-hashed: {v:.1f} s ({events / v:,.0f} events/s)")


def appends(args: argparse.Namespace, ctx: Any, tmp: Path) -> None:
    """The append figures: 1 writer on SQLite and PostgreSQL, N writers on PostgreSQL."""
    from evservice.audit import verify_log
    from evservice.store import get_engine, migrate

    s_plain = plain_loop(ctx, args.appends)
    s_audit = append_loop(ctx, args.appends)
    print(
        f"append, 1 writer, SQLite: {args.appends / s_audit:,.0f} appends/s "
        f"(plain 1-row insert transaction: {args.appends / s_plain:,.0f}/s; "
        f"ratio {s_plain / s_audit:.2f})"
    )
    if args.no_pg:
        return
    with pg_schema(args.pg_url) as pg:
        ctx = make_ctx(pg, tmp / "data")
        migrate(get_engine(pg))
        p_plain = plain_loop(ctx, args.appends)
        p_audit = append_loop(ctx, args.appends)
        one = args.appends / p_audit
        print(
            f"append, 1 writer, PostgreSQL: {one:,.0f} appends/s "
            f"(plain 1-row insert transaction: {args.appends / p_plain:,.0f}/s; "
            f"ratio {p_plain / p_audit:.2f})"
        )
        many = concurrent_rate(pg, tmp / "data", args.writers, args.appends)
        print(
            f"append, {args.writers} writer processes, PostgreSQL: {many:,.0f} appends/s "
            f"(ratio to 1 writer: {many / one:.2f})"
        )
        result = verify_log(ctx)
        assert result.ok, result.summary()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--appends", type=int, default=2000)
    parser.add_argument("--writers", type=int, default=8)
    parser.add_argument("--proof-events", type=int, default=1_000_000)
    parser.add_argument("--proofs", type=int, default=200)
    parser.add_argument("--proof-store", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--pg-url", default=PG_URL)
    parser.add_argument("--no-pg", action="store_true", help="SQLite only")
    parser.add_argument("--verify", action="store_true", help="also time verify_log on the big log")
    parser.add_argument("--only-proofs", action="store_true", help="skip the append figures")
    args = parser.parse_args()

    from evservice.store import get_engine, migrate

    tmp = Path(tempfile.mkdtemp(prefix="bench-audit-"))
    try:
        print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}")
        url = f"sqlite:///{tmp / 'one.db'}"
        ctx = make_ctx(url, tmp / "data")
        migrate(get_engine(url))
        if not args.only_proofs:
            appends(args, ctx, tmp)
        if args.proof_store == "postgres" and not args.no_pg:
            with pg_schema(args.pg_url) as pg:
                ctx = make_ctx(pg, tmp / "data")
                migrate(get_engine(pg))
                proof_figures(ctx, args.proof_events, args.proofs, args.verify)
        else:
            url = f"sqlite:///{tmp / 'big.db'}"
            ctx = make_ctx(url, tmp / "data")
            migrate(get_engine(url))
            proof_figures(ctx, args.proof_events, args.proofs, args.verify)
        print(
            f"command: {COMMAND} --appends {args.appends} --writers {args.writers} "
            f"--proof-events {args.proof_events} --proofs {args.proofs} "
            f"--proof-store {args.proof_store}"
            + (" --no-pg" if args.no_pg else "")
            + (" --verify" if args.verify else "")
            + (" --only-proofs" if args.only_proofs else "")
        )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
