"""What the audit log costs: appends per second, the sequencer, and proofs in a big log.

Figures, each with a baseline measured in the same run on the same machine:

* appends/s with one writer at 1, 10 and 100 events per transaction, on SQLite
  and on PostgreSQL, for ``record`` (PostgreSQL: one INSERT into
  ``audit_queue``, no shared lock; SQLite: appended in place in the caller's
  transaction, which holds the write lock already) against the former path
  (``append_now``: append under the log-head lock inside the caller's
  transaction) -- the baseline -- and, on SQLite, the queue (``queue_many``).
  The ceiling is printed beside them: plain transactions inserting as many
  rows of the same width (one row per transaction is what a commit costs);
* the same with ``--writers`` concurrent writer processes (spawn), both paths
  and the plain ceiling; on PostgreSQL also with the server's group commit
  widened on the writers' sessions (``commit_delay``/``commit_siblings``: commits
  share a WAL flush, each still synchronous);
* sequencer events/s: integrating the backlog the writers left in the queue
  (batches of ``--batch-size``), and the time from commit to sequenced (p50,
  p99) while 1 and ``--writers`` writers append and a sequencer process runs
  (``run_sequencer`` with its defaults); measured by sampling the log size
  every millisecond. On SQLite, where ``record`` is sequenced at its commit,
  the writers use the queue for this figure;
* proofs in a log of ``--proof-events`` events: an inclusion proof and a
  consistency proof served from the stored subtree hashes (O(log n) node reads
  in one query). Baseline: the naive proof from all leaf hashes (RFC 6962's
  recursion) -- skipped above 2*10^6 events, where it would only measure
  reading the table.

The big log is built either through ``record_many`` + the sequencer (the
default up to 10^6 events) or with ``--bulk``: the same canonical event bytes,
leaf and node hashes and frontier code, written with COPY (PostgreSQL) or
executemany (SQLite) straight into ``audit_event``/``audit_node``/the head, so
its tables are exactly what integration produces (checked: the first events'
bytes equal ``canonical_event_bytes``, and ``--verify`` re-hashes the whole log).

With ``--batch-invoices N --old-src DIR``: the batch's invoices/s (``run_batch``
on N demo customers, SQLite, each worker count of ``--batch-workers``) with
this tree's log against two baselines: the former tree, whose ``src`` folder is
DIR (``git worktree add --detach /tmp/old15 017e957``, the commit before the
queue), and this tree with every event appended by the former path
(``append_now``, patched in through a ``sitecustomize`` in every process of the
batch), so that only the log differs. The three alternate, ``--batch-repeats``
times each, in fresh processes; the best of each is compared.

Run:  .venv/bin/python bench/bench_audit.py [--appends 2000] [--writers 8]
          [--batch-size 2000] [--latency-events 3000]
          [--proof-events 1000000] [--proofs 200] [--proof-store sqlite|postgres]
          [--bulk] [--pg-url URL] [--no-pg] [--verify] [--only-proofs] [--no-proofs]
          [--batch-invoices N --old-src DIR [--batch-workers 1,2] [--batch-repeats 3]]
"""

from __future__ import annotations

import argparse
import json
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


def _with_options(url: str, options: str) -> str:
    """``url`` with more server settings in its libpq ``options``."""
    parsed = sa.make_url(url)
    given = parsed.query.get("options", "")
    merged = f"{given} {options}".strip() if isinstance(given, str) else options
    return parsed.update_query_dict({"options": merged}).render_as_string(hide_password=False)


def make_ctx(url: str, data_dir: Path) -> Any:
    from evservice._context import Context
    from evservice.clock import ManualClock
    from evservice.config import Settings

    settings = Settings(data_dir=data_dir, database_url=url, _env_file=None)  # type: ignore[call-arg]
    return Context(settings=settings, clock=ManualClock(T0))


def _event_data(i: int) -> dict[str, Any]:
    return {"document_sha256": f"{i:064x}", "total": 1_234_567, "channel": "email"}


def append_loop(
    ctx: Any, count: int, worker: int = 0, mode: str = "record", stamps: list[float] | None = None
) -> float:
    """``count`` appends, one transaction each; returns the seconds taken.

    ``mode`` "record" is today's ``record`` (PostgreSQL: the queue; SQLite: in
    place once the log has begun); "queue" the queue on either back end
    (``queue_many``); "locked" the former path (``append_now``, under the head
    lock); "plain" one plain row of the same width in ``bench_plain_event``
    (the floor: what a commit costs here). With ``stamps``, the wall time of
    each commit is appended to it (for the latency figure).
    """
    from evservice.store import transaction

    engine = ctx.engine
    write = _writer(mode, worker)
    start = time.perf_counter()
    for i in range(count):
        with transaction(engine) as session:
            write(session, i, i + 1)
        if stamps is not None:
            stamps.append(time.time())
    return time.perf_counter() - start


def _writer(mode: str, worker: int = 0) -> Callable[[Any, int, int], object]:
    """``write(session, first, end)``: events ``first..end-1`` in the open transaction."""
    from evservice.audit import NewEvent, record_many
    from evservice.audit._log import append_now, queue_many

    if mode == "plain":

        def plain(session: Any, first: int, end: int) -> None:
            session.connection().execute(
                sa.insert(PLAIN),
                [
                    {
                        "id": worker * 10_000_000 + i,
                        "event_id": str(uuid.uuid4()),
                        "type": "invoice.issued",
                        "subject": f"inv-{worker}-{i}",
                        "actor": "system",
                        "at": T0 + timedelta(seconds=i),
                        "data": json.dumps(_event_data(i), sort_keys=True, separators=(",", ":")),
                    }
                    for i in range(first, end)
                ],
            )

        return plain
    call = {"record": record_many, "queue": queue_many, "locked": append_now}[mode]

    def events(session: Any, first: int, end: int) -> object:
        return call(
            session,
            [
                NewEvent(
                    "invoice.issued",
                    f"inv-{worker}-{i}",
                    "system",
                    T0 + timedelta(seconds=i),
                    _event_data(i),
                )
                for i in range(first, end)
            ],
        )

    return events


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


def batched_loop(ctx: Any, count: int, per_tx: int, mode: str) -> float:
    """``count`` events in transactions of ``per_tx`` (as the batch records a chunk).

    Modes as in :func:`append_loop`; "plain" inserts ``per_tx`` plain rows per
    transaction (one executemany) into a table made for the call.
    """
    from evservice.store import transaction

    if mode == "plain":
        PLAIN.create(ctx.engine, checkfirst=True)
    write = _writer(mode)
    start = time.perf_counter()
    for first in range(0, count, per_tx):
        with transaction(ctx.engine) as session:
            write(session, first, min(count, first + per_tx))
    elapsed = time.perf_counter() - start
    if mode == "plain":
        PLAIN.drop(ctx.engine)
    return elapsed


def writer_process(
    url: str, data_dir: str, worker: int, count: int, barrier: Any, mode: str, pace: float
) -> tuple[float, float, list[float]]:
    """One of the concurrent writers: warm up, wait for all, append.

    Returns (start, end, commit wall times). With ``pace`` > 0 it sleeps that
    long between transactions (the latency runs use a steady rate).
    """
    from evservice.store import get_engine

    ctx = make_ctx(url, Path(data_dir))
    ctx.__dict__["engine"] = get_engine(url)  # the parent migrated the store already
    with ctx.engine.connect() as conn:
        conn.exec_driver_sql("SELECT 1")
    barrier.wait(timeout=300)
    start = time.monotonic()
    stamps: list[float] = []
    if pace <= 0:
        append_loop(ctx, count, worker, mode, stamps)
    else:
        for i in range(count):
            append_loop(ctx, 1, worker * 1_000_000 + i, mode, stamps)
            time.sleep(pace)
    return start, time.monotonic(), stamps


def concurrent_rate(
    url: str, data_dir: Path, writers: int, total: int, mode: str, pace: float = 0.0
) -> tuple[float, list[float]]:
    """Appends/s of ``writers`` processes at once, and every commit's wall time."""
    spawn = multiprocessing.get_context("spawn")
    per = total // writers
    with spawn.Manager() as manager:
        barrier = manager.Barrier(writers)
        with spawn.Pool(writers) as pool:
            spans = pool.starmap(
                writer_process,
                [(url, str(data_dir), w, per, barrier, mode, pace) for w in range(writers)],
            )
    wall = max(end for _, end, _ in spans) - min(start for start, _, _ in spans)
    return per * writers / wall, [t for _, _, stamps in spans for t in stamps]


def sequencer_rate(ctx: Any, batch_size: int) -> tuple[int, float]:
    """Integrate the whole backlog in the queue; (events, events/s)."""
    from evservice.audit import SequencerOptions, queue_length, sequence_pending

    backlog = queue_length(ctx)
    t = time.perf_counter()
    sequence_pending(ctx, options=SequencerOptions(batch_size=batch_size))
    return backlog, backlog / (time.perf_counter() - t)


def sequencer_process(url: str, data_dir: str, stop: Any) -> int:
    """A stand-alone sequencer with the default options (as ``evservice audit sequence``)."""
    import threading

    from evservice.audit import run_sequencer
    from evservice.store import get_engine

    ctx = make_ctx(url, Path(data_dir))
    ctx.__dict__["engine"] = get_engine(url)
    done = threading.Event()

    def watch() -> None:
        stop.wait()
        done.set()

    threading.Thread(target=watch, daemon=True).start()
    return run_sequencer(ctx, stop=done)


def latency(
    url: str, data_dir: Path, writers: int, total: int, pace: float, mode: str
) -> tuple[float, ...]:
    """Commit-to-sequenced p50/p99 (ms) with a sequencer process running; plus appends/s."""
    import bisect
    import threading

    from evservice.audit import log_size

    ctx = make_ctx(url, data_dir)
    spawn = multiprocessing.get_context("spawn")
    base = log_size(ctx)
    samples: list[tuple[int, float]] = []
    sampling = threading.Event()

    def sample() -> None:
        from evservice.audit._log import read_head, reading

        with reading(ctx.engine) as conn:
            while not sampling.is_set():
                samples.append((read_head(conn).size, time.time()))
                conn.rollback()
                time.sleep(0.001)

    with spawn.Manager() as manager:
        stop = manager.Event()
        with spawn.Pool(1) as seq_pool:
            seq = seq_pool.apply_async(sequencer_process, (url, str(data_dir), stop))
            sampler = threading.Thread(target=sample)
            sampler.start()
            rate, stamps = concurrent_rate(url, data_dir, writers, total, mode, pace)
            deadline = time.time() + 60
            while log_size(ctx) < base + len(stamps) and time.time() < deadline:
                time.sleep(0.01)
            sampling.set()
            sampler.join()
            stop.set()
            seq.get(timeout=120)
    # The k-th committed event (in commit order) is sequenced once the size passes base + k
    # (integration follows queue order, which follows commit order to within a batch).
    stamps.sort()
    sizes = [size for size, _ in samples]
    waits = []
    for k, committed in enumerate(stamps):
        pos = bisect.bisect_right(sizes, base + k)
        if pos < len(samples):
            waits.append(max(0.0, samples[pos][1] - committed) * 1000)
    waits.sort()
    p50 = waits[len(waits) // 2]
    p99 = waits[min(len(waits) - 1, int(len(waits) * 0.99))]
    return p50, p99, rate


def build_log(ctx: Any, events: int, chunk: int = 10_000) -> float:
    """Fill the log through ``record_many`` (queue) and the sequencer; returns seconds."""
    from evservice.audit import NewEvent, SequencerOptions, record_many, sequence_pending
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
        sequence_pending(ctx, options=SequencerOptions(batch_size=chunk))
        done += n
        print(f"  built {done:,} events", file=sys.stderr, end="\r")
    print(file=sys.stderr)
    return time.perf_counter() - start


_BULK_DATA = b'{"channel":"email","document_sha256":"%064x","total":1234567}'


def _bulk_event(i: int) -> tuple[str, str, bytes, bytes]:
    """Event ``i`` of the bulk log: (event id, time text, data bytes, canonical bytes)."""
    event_id = f"{i >> 32 & 0xFFFFFFFF:08x}-0000-4000-8000-{i & 0xFFFFFFFFFFFF:012x}"
    at = (T0 + timedelta(seconds=i)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    data = _BULK_DATA % i
    raw = (
        b'{"actor":"system","at":"%s","data":%s,"id":"%s","subject":"inv-%d",'
        b'"type":"invoice.issued","v":1}' % (at.encode(), data, event_id.encode(), i)
    )
    return event_id, at, data, raw


def bulk_build(ctx: Any, events: int, chunk: int = 200_000) -> float:
    """Build the log at ``events`` straight into the tables (COPY on PostgreSQL)."""
    import json

    from evservice.audit import canonical_event_bytes, leaf_hash
    from evservice.audit._log import EVENTS, HEAD, NODES
    from evservice.audit._merkle import Frontier

    for i in (0, 1, 12345):  # the bulk bytes are the library's canonical bytes
        event_id, at, data, raw = _bulk_event(i)
        assert raw == canonical_event_bytes(
            id=event_id,
            type="invoice.issued",
            subject=f"inv-{i}",
            actor="system",
            at=T0 + timedelta(seconds=i),
            data=json.loads(data),
        )
    start = time.perf_counter()
    frontier = Frontier()
    postgres = ctx.engine.dialect.name == "postgresql"
    raw_conn = ctx.engine.raw_connection() if postgres else None
    done = 0
    while done < events:
        n = min(chunk, events - done)
        ev_lines: list[bytes] = []
        node_lines: list[bytes] = []
        ev_rows: list[dict[str, Any]] = []
        node_rows: list[dict[str, Any]] = []
        for i in range(done, done + n):
            event_id, at, data, raw = _bulk_event(i)
            for level, idx, h in frontier.append(leaf_hash(raw)):
                if postgres:
                    node_lines.append(b"%d\t%d\t\\\\x%s\n" % (level, idx, h.hex().encode()))
                else:
                    node_rows.append({"level": level, "idx": idx, "hash": h})
            if postgres:
                ev_lines.append(
                    b"%d\t%s\t1\tinvoice.issued\tinv-%d\tsystem\t%s\t%s\n"
                    % (i, event_id.encode(), i, at.encode(), data)
                )
            else:
                ev_rows.append(
                    {
                        "idx": i,
                        "event_id": event_id,
                        "v": 1,
                        "type": "invoice.issued",
                        "subject": f"inv-{i}",
                        "actor": "system",
                        "at": T0 + timedelta(seconds=i),
                        "data": data.decode(),
                    }
                )
        if raw_conn is not None:
            with raw_conn.cursor() as cur:
                with cur.copy(
                    "COPY audit_event (idx, event_id, v, type, subject, actor, at, data) FROM STDIN"
                ) as copy:
                    copy.write(b"".join(ev_lines))
                with cur.copy("COPY audit_node (level, idx, hash) FROM STDIN") as copy:
                    copy.write(b"".join(node_lines))
            raw_conn.commit()
        else:
            with ctx.engine.begin() as conn:
                conn.execute(sa.insert(EVENTS), ev_rows)
                conn.execute(sa.insert(NODES), node_rows)
        done += n
        print(f"  built {done:,} events", file=sys.stderr, end="\r")
    print(file=sys.stderr)
    if raw_conn is not None:
        raw_conn.close()
    with ctx.engine.begin() as conn:
        conn.execute(sa.update(HEAD).values(size=frontier.size, frontier=frontier.to_bytes()))
        if postgres:
            conn.exec_driver_sql("ANALYZE audit_node")
            conn.exec_driver_sql("ANALYZE audit_event")
    elapsed = time.perf_counter() - start
    from evservice.audit import publish_checkpoint

    publish_checkpoint(ctx)  # as the sequencer would have signed one
    return elapsed


def timed(fn: Callable[[], object], repeat: int) -> float:
    """Median seconds of ``repeat`` calls."""
    samples = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t)
    return statistics.median(samples)


def proof_figures(ctx: Any, events: int, proofs: int, verify: bool, bulk: bool) -> None:
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

    build = bulk_build(ctx, events) if bulk else build_log(ctx, events)
    how = "the bulk path (COPY / executemany)" if bulk else "record_many + the sequencer"
    print(
        f"built a log of {events:,} events on {ctx.engine.dialect.name} with {how} "
        f"in {build:.1f} s ({events / build:,.0f} events/s)"
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
    it_at = iter(indexes)
    inc_at = timed(lambda: inclusion_proof(next(it_at), events, ctx=ctx), proofs)
    co_at = iter(olds)
    con_at = timed(lambda: consistency_proof(next(co_at), events, ctx=ctx), proofs)
    for i in indexes[:20]:
        assert verify_inclusion(i, events, leaves[i], inclusion_proof(i, events, ctx), root)
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

    if events <= 2_000_000:
        naive_s = timed(naive, 3)
        assert naive() == inclusion_proof(indexes[0], ctx=ctx)
        baseline = f"naive from all leaves: {naive_s * 1000:.0f} ms; {naive_s / inc:,.0f}x faster"
        con_base = f"{naive_s / con:,.0f}x faster than the naive inclusion baseline"
    else:
        small = 1 << 16  # baseline: the same proofs in a log of 2^16 events (O(log n) check)
        it2 = iter(rng.randrange(small) for _ in range(proofs))
        inc_small = timed(lambda: inclusion_proof(next(it2), small, ctx=ctx), proofs)
        baseline = (
            f"same store at size 2^16: {inc_small * 1000:.2f} ms, ratio {inc / inc_small:.2f}; "
            "naive baseline skipped above 2*10^6 events"
        )
        co2 = iter(rng.randrange(1, small) for _ in range(proofs))
        con_small = timed(lambda: consistency_proof(next(co2), small, ctx=ctx), proofs)
        con_base = (
            f"same store at size 2^16: {con_small * 1000:.2f} ms, ratio {con / con_small:.2f}"
        )
    print(f"inclusion proof, {events:,} events: {inc * 1000:.2f} ms ({baseline})")
    print(f"consistency proof, {events:,} events: {con * 1000:.2f} ms ({con_base})")
    print(
        f"at a given size (a checkpoint's, as bundles prove; nodes and size in one query), "
        f"{events:,} events: inclusion {inc_at * 1000:.2f} ms, consistency "
        f"{con_at * 1000:.2f} ms"
    )
    if verify:
        t = time.perf_counter()
        result = verify_log(ctx, chunk_size=5000)
        assert result.ok, result.summary()
        v = time.perf_counter() - t
        print(f"verify_log, {events:,} events re-hashed: {v:.1f} s ({events / v:,.0f} events/s)")


def _one_backend(args: argparse.Namespace, name: str, url: str, tmp: Path) -> None:
    """Every append and sequencer figure on one back end (a migrated, empty store at ``url``)."""
    from evservice.audit import queue_length, sequence_pending, verify_log

    ctx = make_ctx(url, tmp / "data")
    sqlite = ctx.engine.dialect.name == "sqlite"
    batched_loop(ctx, 1, 1, "record")  # an empty log's first events queue, on SQLite too
    sequence_pending(ctx)
    how = "in place" if sqlite else "queued"
    modes = ("plain", "locked", "record", *(("queue",) if sqlite else ()))
    one = 0.0
    for per_tx in (1, 10, 100):
        count = args.appends * (1 if per_tx == 1 else 5)
        rate = {mode: count / batched_loop(ctx, count, per_tx, mode) for mode in modes}
        one = one or rate["record"]
        queue = f"; queue {rate['queue']:,.0f}/s before its sequencer" if sqlite else ""
        print(
            f"append, 1 writer, {per_tx} event(s) per transaction, {name}: record "
            f"{rate['record']:,.0f} events/s ({how}); former path (head lock in the caller's "
            f"transaction) {rate['locked']:,.0f}/s, ratio {rate['record'] / rate['locked']:.2f}"
            f"{queue}; ceiling, plain {per_tx}-row insert transactions: {rate['plain']:,.0f} "
            f"rows/s (record at {rate['record'] / rate['plain']:.2f} of it)",
            flush=True,
        )
    events, seq_rate = sequencer_rate(ctx, args.batch_size)
    print(
        f"sequencer, {name}: {seq_rate:,.0f} events/s integrating a backlog of {events:,} "
        f"(batches of {args.batch_size})",
        flush=True,
    )
    locked, _ = concurrent_rate(url, tmp / "data", args.writers, args.appends, "locked")
    many, _ = concurrent_rate(url, tmp / "data", args.writers, args.appends, "record")
    PLAIN.create(ctx.engine, checkfirst=True)
    floor, _ = concurrent_rate(url, tmp / "data", args.writers, args.appends, "plain")
    PLAIN.drop(ctx.engine)
    print(
        f"append, {args.writers} writer processes, 1 event per transaction, {name}: record "
        f"{many:,.0f} appends/s ({how}); former path {locked:,.0f}/s; ratio "
        f"{many / locked:.2f} (ratio to 1 writer: {many / one:.2f}; ceiling, plain 1-row "
        f"insert transactions, {args.writers} writers: {floor:,.0f}/s)",
        flush=True,
    )
    if not sqlite:
        # PostgreSQL's own group commit: commits that arrive together share one WAL flush,
        # each still synchronous (nothing is lost once a commit returns).
        grouped_url = _with_options(url, "-ccommit_delay=200 -ccommit_siblings=2")
        grouped, _ = concurrent_rate(
            grouped_url, tmp / "data", args.writers, args.appends, "record"
        )
        print(
            f"append, {args.writers} writer processes, record, {name}, with the server's group "
            f"commit widened (commit_delay 200 us, commit_siblings 2 on the writers' sessions): "
            f"{grouped:,.0f} appends/s; ratio to the default settings {grouped / many:.2f}",
            flush=True,
        )
        events, seq_rate = sequencer_rate(ctx, args.batch_size)
        print(f"sequencer, {name}: {seq_rate:,.0f} events/s integrating a backlog of {events:,}")
    # SQLite's record() is sequenced at commit: time the queue's sequencer there instead.
    mode = "queue" if sqlite else "record"
    for writers, pace in ((1, 0.002), (args.writers, 0.0)):
        p50, p99, appended = latency(url, tmp / "data", writers, args.latency_events, pace, mode)
        steady = f"paced {pace * 1000:.0f} ms apart" if pace else "full speed"
        print(
            f"commit to sequenced, {writers} writer(s) {steady} ({appended:,.0f} appends/s, "
            f"{'queue_many' if sqlite else 'record'}) with a sequencer process, {name}: "
            f"p50 {p50:.1f} ms, p99 {p99:.1f} ms",
            flush=True,
        )
    sequence_pending(ctx)
    assert queue_length(ctx) == 0
    result = verify_log(ctx)
    assert result.ok, result.summary()


_BATCH_DRIVER = """
import sys, tempfile
from datetime import UTC, date, datetime
from pathlib import Path
from evservice._context import Context
from evservice.batch import BatchOptions, BatchPeriod, run_batch, write_demo_csv
from evservice.clock import ManualClock
from evservice.config import Settings
import evservice, evservice.audit
n, workers = int(sys.argv[1]), int(sys.argv[2])
tmp = Path(tempfile.mkdtemp(prefix="bench-audit-batch-"))
period = BatchPeriod(2026, 10)
write_demo_csv(tmp / "in.csv", customers=n, period=period, seed=2026)
settings = Settings(
    data_dir=tmp / "data", database_url=f"sqlite:///{tmp / 's.db'}", _env_file=None,
    seller_name="Công ty Điện lực Hoàn Kiếm", seller_tax_code="0100101114",
    seller_address="69 Đinh Tiên Hoàng, Hà Nội", seller_phone="02422200898",
    payee_bank_bin="970436", payee_account="0011001234567", payee_name="DIEN LUC HOAN KIEM",
)
ctx = Context(settings=settings, clock=ManualClock(datetime(2026, 11, 1, 3, tzinfo=UTC)))
options = BatchOptions(workers=workers, issue_date=date(2026, 11, 1), series="C26TAA")
summary = run_batch(tmp / "in.csv", period, ctx=ctx, options=options)
recorder = evservice.audit.record_many.__name__
print(summary.issued, summary.elapsed_seconds, evservice.__file__, recorder)
"""


_FORMER_PATH = """
# Written by bench_audit.py: in every process of the batch (main, fork server,
# workers), record events through the former path (append under the head lock
# in the caller's transaction) instead of this tree's log.
import os
if os.environ.get("BENCH_AUDIT_FORMER_PATH"):
    import evservice.audit as audit
    from evservice.audit import _log
    audit.record_many = _log.record_many = _log.append_now
"""


def batch_figures(args: argparse.Namespace, tmp: Path) -> None:
    """run_batch's invoices/s with this tree's log and two baselines, alternating.

    "former tree" is the tree at ``--old-src`` (the log before the queue, and
    everything else as it was then); "former path" is this tree with every
    event appended by ``append_now`` (the former head-lock path), so only the
    log differs.
    """
    import subprocess

    new_src = str(Path(__file__).resolve().parents[1] / "src")
    hook = tmp / "former-path-hook"
    hook.mkdir(exist_ok=True)
    (hook / "sitecustomize.py").write_text(_FORMER_PATH)
    runs = {
        "new": ({"PYTHONPATH": new_src}, new_src),
        "former tree": ({"PYTHONPATH": str(args.old_src)}, str(args.old_src)),
        "former path": (
            {"PYTHONPATH": f"{new_src}{os.pathsep}{hook}", "BENCH_AUDIT_FORMER_PATH": "1"},
            new_src,
        ),
    }
    for workers in args.batch_workers:
        rates: dict[str, list[float]] = {label: [] for label in runs}
        for _ in range(args.batch_repeats):
            for label, (extra, src) in runs.items():
                out = subprocess.run(
                    [sys.executable, "-c", _BATCH_DRIVER, str(args.batch_invoices), str(workers)],
                    env={**os.environ, **extra}, capture_output=True, text=True, check=True,
                ).stdout.split()  # fmt: skip
                issued, elapsed, where, recorder = int(out[0]), float(out[1]), out[2], out[3]
                assert where.startswith(src), (where, src)  # the intended tree ran
                assert (recorder == "append_now") == (label == "former path"), recorder
                rates[label].append(issued / elapsed)
        best = {label: max(r) for label, r in rates.items()}
        every = "; ".join(f"{k} {', '.join(f'{r:.1f}' for r in v)}" for k, v in rates.items())
        print(
            f"run_batch, {args.batch_invoices:,} invoices, {workers} worker(s), SQLite: "
            f"new log {best['new']:,.1f} invoices/s; former log in this tree (append_now) "
            f"{best['former path']:,.1f}/s, ratio {best['new'] / best['former path']:.2f}; "
            f"former tree {best['former tree']:,.1f}/s, ratio "
            f"{best['new'] / best['former tree']:.2f} (best of {args.batch_repeats} each, "
            f"alternating; all: {every})",
            flush=True,
        )


def appends(args: argparse.Namespace, tmp: Path) -> None:
    """The append figures on SQLite and (unless --no-pg) PostgreSQL."""
    from evservice.store import get_engine, migrate

    url = f"sqlite:///{tmp / 'one.db'}"
    migrate(get_engine(url))
    _one_backend(args, "SQLite", url, tmp)
    if args.no_pg:
        return
    with pg_schema(args.pg_url) as pg:
        migrate(get_engine(pg))
        _one_backend(args, "PostgreSQL", pg, tmp)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--appends", type=int, default=2000)
    parser.add_argument("--writers", type=int, default=8)
    parser.add_argument("--batch-size", type=int, default=2000)
    parser.add_argument("--latency-events", type=int, default=3000)
    parser.add_argument("--bulk", action="store_true", help="build the big log with COPY")
    parser.add_argument("--no-proofs", action="store_true", help="skip the proof figures")
    parser.add_argument("--batch-invoices", type=int, default=0)
    parser.add_argument(
        "--batch-workers",
        type=lambda text: [int(w) for w in text.split(",")],
        default=[1],
        help="comma-separated worker counts, e.g. 1,2",
    )
    parser.add_argument("--batch-repeats", type=int, default=3)
    parser.add_argument("--old-src", type=Path, help="src folder of the former log's tree")
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
        if args.batch_invoices:
            if args.old_src is None:
                parser.error("--batch-invoices needs --old-src")
            batch_figures(args, tmp)
        if not args.only_proofs:
            appends(args, tmp)
        if args.no_proofs:
            pass
        elif args.proof_store == "postgres" and not args.no_pg:
            with pg_schema(args.pg_url) as pg:
                ctx = make_ctx(pg, tmp / "data")
                migrate(get_engine(pg))
                proof_figures(ctx, args.proof_events, args.proofs, args.verify, args.bulk)
        else:
            url = f"sqlite:///{tmp / 'big.db'}"
            ctx = make_ctx(url, tmp / "data")
            migrate(get_engine(url))
            proof_figures(ctx, args.proof_events, args.proofs, args.verify, args.bulk)
        print(
            f"command: {COMMAND} --appends {args.appends} --writers {args.writers} "
            f"--batch-size {args.batch_size} --latency-events {args.latency_events} "
            f"--proof-events {args.proof_events} --proofs {args.proofs} "
            f"--proof-store {args.proof_store}"
            + (" --bulk" if args.bulk else "")
            + (" --no-pg" if args.no_pg else "")
            + (" --verify" if args.verify else "")
            + (" --only-proofs" if args.only_proofs else "")
            + (" --no-proofs" if args.no_proofs else "")
            + (
                f" --batch-invoices {args.batch_invoices} --batch-workers "
                f"{','.join(map(str, args.batch_workers))} --batch-repeats {args.batch_repeats}"
                f" --old-src {args.old_src}"
                if args.batch_invoices
                else ""
            )
        )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
